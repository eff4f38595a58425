-- The TMCDB monitoring tables almasql reads, and the configuration tables
-- that give a monitor point its antenna, assembly (LRU) type, component
-- and units. For tests and demos; at ALMA these tables live in Oracle.
--
-- Columns mirror ACS (ACS-Community/ACS): the DDL of the software
-- configuration tables, LGPL/CommonSoftware/cdb_rdb/src/generic/TMCDB_swconfigcore.ddl
-- (Configuration, ComponentType, Component, BACIProperty), and the
-- Hibernate classes generated from the hardware/monitoring DDL,
-- LGPL/CommonSoftware/cdb_rdb/src/alma/acs/tmcdb/helper/{HWConfiguration,
-- LRUType, AssemblyType, Assembly, BaseElement, Antenna, MonitorPoint,
-- MonitorData}.java. Departures:
--   * MonitorPoint.Offset is ValueOffset (OFFSET is reserved in PostgreSQL);
--     BACIProperty.condition is left out (CONDITION is reserved in MySQL);
--     Antenna keeps its identifying and position columns only.
--   * Only keys, names and the columns almasql reads are NOT NULL.
--   * Identifiers are unquoted: PostgreSQL folds them to lower case, MySQL
--     keeps them as written (table names are case-sensitive there), and
--     almasql's queries spell them exactly as here, so both work.
--   * The same text runs on PostgreSQL and MySQL 8 (InnoDB): table-level
--     FOREIGN KEY clauses (MySQL ignores column-level REFERENCES), no
--     dialect-only types. On MySQL, TEXT holds 64 KiB: make
--     MonitorData.MonitorClob MEDIUMTEXT or LONGTEXT for long blocks.
--
-- Times: MonitorData.StartTime / EndTime and the MonitorClob times are ACS
-- time (100 ns units since 1582-10-15T00:00:00 UTC), MonitorTS a timestamp.

CREATE TABLE Configuration (
    ConfigurationId INTEGER NOT NULL,
    ConfigurationName VARCHAR(128) NOT NULL,
    FullName VARCHAR(256),
    Active BOOLEAN,
    CreationTime TIMESTAMP(6),
    Description TEXT,
    PRIMARY KEY (ConfigurationId)
);

CREATE TABLE HWConfiguration (
    ConfigurationId INTEGER NOT NULL,
    GlobalConfigId INTEGER,
    SwConfigurationId INTEGER NOT NULL,
    TelescopeName VARCHAR(128) NOT NULL,
    ArrayReferenceX DOUBLE PRECISION,
    ArrayReferenceY DOUBLE PRECISION,
    ArrayReferenceZ DOUBLE PRECISION,
    PRIMARY KEY (ConfigurationId),
    FOREIGN KEY (SwConfigurationId) REFERENCES Configuration (ConfigurationId)
);

CREATE TABLE ComponentType (
    ComponentTypeId INTEGER NOT NULL,
    IDL VARCHAR(256) NOT NULL,
    PRIMARY KEY (ComponentTypeId)
);

-- A component's full name is Path/ComponentName, e.g. CONTROL/DA41 + IFProc0.
CREATE TABLE Component (
    ComponentId INTEGER NOT NULL,
    ComponentTypeId INTEGER NOT NULL,
    ComponentName VARCHAR(256) NOT NULL,
    ConfigurationId INTEGER NOT NULL,
    ContainerId INTEGER,
    ImplLang VARCHAR(6),
    RealTime BOOLEAN,
    Code VARCHAR(256),
    Path VARCHAR(256) NOT NULL,
    IsAutostart BOOLEAN,
    IsDefault BOOLEAN,
    IsStandaloneDefined BOOLEAN,
    IsControl BOOLEAN,
    KeepAliveTime INTEGER,
    MinLogLevel SMALLINT,
    MinLogLevelLocal SMALLINT,
    XMLDoc TEXT,
    URN VARCHAR(512),
    ActionThreadStackSize INTEGER,
    MonitoringThreadStackSize INTEGER,
    PRIMARY KEY (ComponentId),
    FOREIGN KEY (ComponentTypeId) REFERENCES ComponentType (ComponentTypeId),
    FOREIGN KEY (ConfigurationId) REFERENCES Configuration (ConfigurationId)
);

CREATE INDEX ComponentPath ON Component (Path);

CREATE TABLE BACIProperty (
    BACIPropertyId INTEGER NOT NULL,
    ComponentId INTEGER NOT NULL,
    PropertyName VARCHAR(128) NOT NULL,
    description TEXT,
    format VARCHAR(16),
    units VARCHAR(24),
    resolution VARCHAR(10),
    archive_priority INTEGER,
    archive_min_int DOUBLE PRECISION,
    archive_max_int DOUBLE PRECISION,
    archive_mechanism VARCHAR(24),
    archive_suppress BOOLEAN,
    default_timer_trig DOUBLE PRECISION,
    min_timer_trig DOUBLE PRECISION,
    initialize_devio BOOLEAN,
    min_delta_trig DOUBLE PRECISION,
    default_value TEXT,
    graph_min DOUBLE PRECISION,
    graph_max DOUBLE PRECISION,
    min_step DOUBLE PRECISION,
    archive_delta DOUBLE PRECISION,
    archive_delta_percent DOUBLE PRECISION,
    alarm_high_on DOUBLE PRECISION,
    alarm_low_on DOUBLE PRECISION,
    alarm_high_off DOUBLE PRECISION,
    alarm_low_off DOUBLE PRECISION,
    alarm_timer_trig DOUBLE PRECISION,
    min_value DOUBLE PRECISION,
    max_value DOUBLE PRECISION,
    bitDescription TEXT,
    whenSet TEXT,
    whenCleared TEXT,
    statesDescription TEXT,
    alarm_on TEXT,
    alarm_off TEXT,
    alarm_fault_family TEXT,
    alarm_fault_member TEXT,
    alarm_level INTEGER,
    Data TEXT,
    PRIMARY KEY (BACIPropertyId),
    FOREIGN KEY (ComponentId) REFERENCES Component (ComponentId)
);

-- Hardware unit types: IFProc, LO2, LORR, WCA3, ColdCart7, PSA, DTX, WVR, ...
CREATE TABLE LRUType (
    LRUName VARCHAR(128) NOT NULL,
    FullName VARCHAR(256),
    ICD VARCHAR(256),
    ICDDate BIGINT,
    Description TEXT,
    Notes TEXT,
    PRIMARY KEY (LRUName)
);

CREATE TABLE AssemblyType (
    AssemblyTypeName VARCHAR(256) NOT NULL,
    BaseElementType VARCHAR(24),
    LRUName VARCHAR(128) NOT NULL,
    FullName VARCHAR(256),
    Description TEXT,
    Notes TEXT,
    ComponentTypeId INTEGER,
    ProductionCode VARCHAR(256),
    SimulatedCode VARCHAR(256),
    PRIMARY KEY (AssemblyTypeName),
    FOREIGN KEY (LRUName) REFERENCES LRUType (LRUName),
    FOREIGN KEY (ComponentTypeId) REFERENCES ComponentType (ComponentTypeId)
);

CREATE TABLE Assembly (
    AssemblyId INTEGER NOT NULL,
    AssemblyTypeName VARCHAR(256) NOT NULL,
    ConfigurationId INTEGER NOT NULL,
    SerialNumber VARCHAR(256) NOT NULL,
    Data TEXT,
    PRIMARY KEY (AssemblyId),
    FOREIGN KEY (AssemblyTypeName) REFERENCES AssemblyType (AssemblyTypeName),
    FOREIGN KEY (ConfigurationId) REFERENCES HWConfiguration (ConfigurationId)
);

-- Antennas, pads, front ends, ... of a hardware configuration.
CREATE TABLE BaseElement (
    BaseElementId INTEGER NOT NULL,
    BaseType VARCHAR(24) NOT NULL,
    BaseElementName VARCHAR(24) NOT NULL,
    ConfigurationId INTEGER NOT NULL,
    PRIMARY KEY (BaseElementId),
    FOREIGN KEY (ConfigurationId) REFERENCES HWConfiguration (ConfigurationId)
);

CREATE TABLE Antenna (
    BaseElementId INTEGER NOT NULL,
    AntennaName VARCHAR(128) NOT NULL,
    AntennaType VARCHAR(16),
    DishDiameter DOUBLE PRECISION,
    CommissionDate BIGINT,
    XPosition DOUBLE PRECISION,
    YPosition DOUBLE PRECISION,
    ZPosition DOUBLE PRECISION,
    XOffset DOUBLE PRECISION,
    YOffset DOUBLE PRECISION,
    ZOffset DOUBLE PRECISION,
    LOOffsettingIndex INTEGER,
    WalshSeq INTEGER,
    Comments TEXT,
    PRIMARY KEY (BaseElementId),
    FOREIGN KEY (BaseElementId) REFERENCES BaseElement (BaseElementId)
);

-- DataType: 'float', 'double', 'boolean', 'string', 'integer', 'enum', 'clob'.
-- A sequence property is one point per element (Indice) or one point whose
-- CLOB values are space-separated sequences.
CREATE TABLE MonitorPoint (
    MonitorPointId INTEGER NOT NULL,
    BACIPropertyId INTEGER NOT NULL,
    MonitorPointName VARCHAR(128) NOT NULL,
    AssemblyId INTEGER NOT NULL,
    Indice INTEGER NOT NULL,
    DataType VARCHAR(16) NOT NULL,
    RCA VARCHAR(16),
    TeRelated BOOLEAN,
    RawDataType VARCHAR(24),
    WorldDataType VARCHAR(24),
    Units VARCHAR(24),
    Scale DOUBLE PRECISION,
    ValueOffset DOUBLE PRECISION,
    MinRange VARCHAR(24),
    MaxRange VARCHAR(24),
    Description TEXT,
    PRIMARY KEY (MonitorPointId),
    UNIQUE (BACIPropertyId, AssemblyId, Indice),
    FOREIGN KEY (BACIPropertyId) REFERENCES BACIProperty (BACIPropertyId),
    FOREIGN KEY (AssemblyId) REFERENCES Assembly (AssemblyId)
);

CREATE INDEX MonitorPointAssembly ON MonitorPoint (AssemblyId);

-- One row per block of samples of one point: the samples in MonitorClob
-- ('t1|v1|t2|v2|...\n'), StartTime/EndTime the first and last sample times.
CREATE TABLE MonitorData (
    MonitorPointId INTEGER NOT NULL,
    StartTime BIGINT NOT NULL,
    EndTime BIGINT NOT NULL,
    MonitorTS TIMESTAMP(6) NOT NULL,
    SampleSize INTEGER NOT NULL,
    MonitorClob TEXT NOT NULL,
    MinStat DOUBLE PRECISION,
    MaxStat DOUBLE PRECISION,
    MeanStat DOUBLE PRECISION,
    StdDevStat DOUBLE PRECISION,
    PRIMARY KEY (MonitorPointId, MonitorTS),
    FOREIGN KEY (MonitorPointId) REFERENCES MonitorPoint (MonitorPointId)
);

CREATE INDEX MonitorDataStart ON MonitorData (MonitorPointId, StartTime);
