// JDBC client-compatibility checks for almasql, with pgjdbc (Debian's
// libpostgresql-jdbc-java, 42.5.x: the driver DBeaver, DataGrip and most BI
// tools use).
//
// Usage (single-file source launch, Java 11+):
//   java -cp /usr/share/java/postgresql.jar Compat.java HOST PORT [--keep-going]
// Exits non-zero with a message on the first failing check (with --keep-going:
// runs every check and exits non-zero if any failed).
// Extra: -Dcompat.only=substring runs only the checks whose name contains it.

import java.sql.*;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.*;

public class Compat {
    static String url;
    static boolean keepGoing;
    static final List<String> failed = new ArrayList<>();

    interface Check { void run() throws Exception; }

    static class CheckFailed extends Exception {
        CheckFailed(String m) { super(m); }
    }

    static void expect(boolean cond, String message) throws CheckFailed {
        if (!cond) throw new CheckFailed(message);
    }

    static Connection connect() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "almasql");
        p.setProperty("ApplicationName", "almasql-compat-jdbc");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "120");
        return DriverManager.getConnection(url, p);
    }

    static void check(String name, Check c) {
        String only = System.getProperty("compat.only");
        if (only != null && !name.contains(only)) return;
        System.out.print("CHECK " + name + " ... ");
        System.out.flush();
        String msg;
        try {
            c.run();
            System.out.println("ok");
            return;
        } catch (CheckFailed e) {
            msg = e.getMessage();
        } catch (SQLException e) {
            msg = e.getClass().getSimpleName() + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage();
        } catch (Exception e) {
            msg = e.toString();
        }
        System.out.println("FAIL");
        System.err.println("  FAILED: " + name + ": " + msg);
        failed.add(name);
        if (!keepGoing) {
            System.err.println("Compat (JDBC): FAILED: " + name);
            System.exit(1);
        }
    }

    static Set<String> column(ResultSet rs, String col) throws SQLException {
        Set<String> out = new LinkedHashSet<>();
        while (rs.next()) out.add(rs.getString(col));
        rs.close();
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: java -cp postgresql.jar Compat.java HOST PORT [--keep-going]");
            System.exit(2);
        }
        url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/almasql";
        keepGoing = Arrays.asList(args).contains("--keep-going");

        check("connect, getDatabaseProductVersion", () -> {
            try (Connection c = connect()) {
                DatabaseMetaData md = c.getMetaData();
                expect("PostgreSQL".equals(md.getDatabaseProductName()), "product " + md.getDatabaseProductName());
                expect(md.getDatabaseMajorVersion() >= 12, "major version " + md.getDatabaseMajorVersion());
                expect(md.getDriverName().contains("PostgreSQL"), "driver " + md.getDriverName());
            }
        });

        check("DatabaseMetaData.getSchemas()", () -> {
            try (Connection c = connect()) {
                Set<String> s = column(c.getMetaData().getSchemas(), "TABLE_SCHEM");
                for (String want : new String[]{"monitor", "ops", "calibrators", "dashboards", "logs", "jira"})
                    expect(s.contains(want), "getSchemas lacks " + want + ": " + s);
            }
        });

        check("DatabaseMetaData.getSchemas(catalog, pattern)", () -> {
            try (Connection c = connect()) {
                Set<String> s = column(c.getMetaData().getSchemas(null, "mon%"), "TABLE_SCHEM");
                expect(s.equals(Set.of("monitor")), "getSchemas(null, 'mon%'): " + s);
            }
        });

        check("DatabaseMetaData.getCatalogs()", () -> {
            try (Connection c = connect()) {
                Set<String> s = column(c.getMetaData().getCatalogs(), "TABLE_CAT");
                expect(s.contains("almasql"), "getCatalogs: " + s);
            }
        });

        check("DatabaseMetaData.getTableTypes()", () -> {
            try (Connection c = connect()) {
                Set<String> s = column(c.getMetaData().getTableTypes(), "TABLE_TYPE");
                expect(s.contains("TABLE") && s.contains("VIEW"), "getTableTypes: " + s);
            }
        });

        check("DatabaseMetaData.getTables(monitor, TABLE)", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getTables(null, "monitor", "%", new String[]{"TABLE"});
                Map<String, String> t = new TreeMap<>();
                while (rs.next()) t.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
                expect("TABLE".equals(t.get("samples")), "getTables(monitor): " + t);
                expect(t.containsKey("lo2_frequency_offsets"), "getTables(monitor): " + t);
            }
        });

        check("DatabaseMetaData.getTables(dashboards, VIEW)", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getTables(null, "dashboards", "%", new String[]{"VIEW"});
                Map<String, String> t = new TreeMap<>();
                while (rs.next()) t.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
                expect("VIEW".equals(t.get("ifp_drift")) && t.containsKey("time_by_executive"), "getTables(dashboards, VIEW): " + t);
            }
        });

        check("DatabaseMetaData.getTables(all, null types)", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getTables(null, null, "%", null);
                Set<String> t = new TreeSet<>();
                while (rs.next()) t.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME"));
                expect(t.contains("monitor.samples") && t.contains("ops.antennas") && t.contains("dashboards.ifp_drift"),
                        "getTables(null,null,%,null) lacks demo tables: " + t.size() + " rows");
            }
        });

        check("DatabaseMetaData.getColumns(monitor.samples)", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getColumns(null, "monitor", "samples", "%");
                List<String> names = new ArrayList<>();
                Map<String, Integer> types = new HashMap<>();
                Map<String, String> typeNames = new HashMap<>();
                Map<String, Integer> nullable = new HashMap<>();
                while (rs.next()) {
                    String n = rs.getString("COLUMN_NAME");
                    names.add(n);
                    types.put(n, rs.getInt("DATA_TYPE"));
                    typeNames.put(n, rs.getString("TYPE_NAME"));
                    nullable.put(n, rs.getInt("NULLABLE"));
                    expect(rs.getInt("ORDINAL_POSITION") == names.size(), "ORDINAL_POSITION of " + n + " = " + rs.getInt("ORDINAL_POSITION"));
                }
                expect(names.equals(List.of("time", "antenna", "device", "monitor_point", "polarization", "baseband", "value", "unit", "date")),
                        "columns " + names);
                expect(types.get("time") == Types.TIMESTAMP || types.get("time") == Types.TIMESTAMP_WITH_TIMEZONE,
                        "time DATA_TYPE " + types.get("time") + " " + typeNames.get("time"));
                expect("timestamptz".equals(typeNames.get("time")), "time TYPE_NAME " + typeNames.get("time"));
                expect(types.get("value") == Types.DOUBLE && "float8".equals(typeNames.get("value")), "value " + types.get("value") + " " + typeNames.get("value"));
                expect(types.get("polarization") == Types.SMALLINT, "polarization " + types.get("polarization"));
                expect(types.get("antenna") == Types.VARCHAR && "text".equals(typeNames.get("antenna")), "antenna " + types.get("antenna") + " " + typeNames.get("antenna"));
                expect(nullable.get("time") == DatabaseMetaData.columnNoNulls && nullable.get("antenna") == DatabaseMetaData.columnNullable,
                        "NULLABLE time=" + nullable.get("time") + " antenna=" + nullable.get("antenna"));
            }
        });

        check("DatabaseMetaData.getColumns(dashboards view)", () -> {
            try (Connection c = connect()) {
                Set<String> s = column(c.getMetaData().getColumns(null, "dashboards", "time_by_executive", null), "COLUMN_NAME");
                expect(s.equals(new LinkedHashSet<>(List.of("month", "executive", "hours", "share_percent"))), "view columns " + s);
            }
        });

        // DBeaver/DataGrip call these when a table is opened; the demo tables
        // have no keys or indexes, so the answer is an empty result, not an error.
        check("DatabaseMetaData.getPrimaryKeys(ops.antennas) runs", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getPrimaryKeys(null, "ops", "antennas");
                expect(rs.getMetaData().getColumnCount() == 6, "columns " + rs.getMetaData().getColumnCount());
                while (rs.next()) { }
            }
        });
        check("DatabaseMetaData.getIndexInfo(ops.antennas) runs", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getIndexInfo(null, "ops", "antennas", false, true);
                expect(rs.getMetaData().getColumnCount() >= 13, "columns " + rs.getMetaData().getColumnCount());
                while (rs.next()) { }
            }
        });
        check("DatabaseMetaData.getImportedKeys(ops.executions) runs", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getImportedKeys(null, "ops", "executions");
                expect(rs.getMetaData().getColumnCount() == 14, "columns " + rs.getMetaData().getColumnCount());
                while (rs.next()) { }
            }
        });

        check("DatabaseMetaData.getFunctions()", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getFunctions(null, null, "%");
                Set<String> s = new TreeSet<>();
                int n = 0;
                while (rs.next()) { s.add(rs.getString("FUNCTION_NAME")); n++; }
                expect(n > 0, "getFunctions returned no rows");
                // almasql's own UDFs (docs/functions.md) should be listed
                expect(s.contains("acs_to_timestamp") || s.contains("mjd"),
                        "getFunctions (" + n + " rows) does not list almasql's acs_to_timestamp/mjd");
            }
        });

        check("DatabaseMetaData.getProcedures() runs (DBeaver's navigator)", () -> {
            try (Connection c = connect()) {
                ResultSet rs = c.getMetaData().getProcedures(null, null, "%");
                expect(rs.getMetaData().getColumnCount() == 9, "columns " + rs.getMetaData().getColumnCount());
                expect("PROCEDURE_NAME".equalsIgnoreCase(rs.getMetaData().getColumnLabel(3)), "column 3 " + rs.getMetaData().getColumnLabel(3));
                while (rs.next()) { }
            }
        });

        check("Statement: query monitor.samples, getTimestamp on timestamptz", () -> {
            try (Connection c = connect(); Statement st = c.createStatement()) {
                ResultSet rs = st.executeQuery("select time, antenna, value from monitor.samples where antenna = 'DV01' order by time limit 5");
                expect(rs.next(), "no rows");
                Timestamp ts = rs.getTimestamp("time");
                expect(ts != null && ts.toInstant().toString().equals("2026-01-01T00:00:00Z"), "getTimestamp(time) = " + (ts == null ? null : ts.toInstant()));
                OffsetDateTime odt = rs.getObject("time", OffsetDateTime.class);
                expect(odt.toInstant().toString().equals("2026-01-01T00:00:00Z"), "getObject(time, OffsetDateTime) = " + odt);
                ResultSetMetaData md = rs.getMetaData();
                expect("timestamptz".equals(md.getColumnTypeName(1)), "column type name " + md.getColumnTypeName(1));
                expect(rs.getString("antenna").equals("DV01") && !rs.wasNull(), "antenna");
                rs.getDouble("value");
                expect(!rs.wasNull(), "value is null");
            }
        });

        check("PreparedStatement with int/double/text/timestamp parameters", () -> {
            try (Connection c = connect()) {
                long literal;
                try (Statement st = c.createStatement()) {
                    ResultSet rs = st.executeQuery("select count(*) from monitor.samples where antenna = 'DV01' and polarization = 0 " +
                            "and value > -100.5 and time >= '2026-01-02 00:00:00+00' and time < '2026-01-02 06:00:00+00'");
                    rs.next();
                    literal = rs.getLong(1);
                }
                expect(literal > 0, "literal count is 0");
                try (PreparedStatement ps = c.prepareStatement(
                        "select count(*) from monitor.samples where antenna = ? and polarization = ? and value > ? and time >= ? and time < ?")) {
                    ps.setString(1, "DV01");
                    ps.setInt(2, 0);
                    ps.setDouble(3, -100.5);
                    ps.setTimestamp(4, Timestamp.from(java.time.Instant.parse("2026-01-02T00:00:00Z")));
                    ps.setObject(5, OffsetDateTime.of(2026, 1, 2, 6, 0, 0, 0, ZoneOffset.UTC));
                    for (int i = 0; i < 6; i++) {  // pgjdbc switches to a named server-side statement after 5 executions
                        ResultSet rs = ps.executeQuery();
                        expect(rs.next(), "no row");
                        expect(rs.getLong(1) == literal, "execution " + (i + 1) + ": parameterised count " + rs.getLong(1) + " != literal " + literal);
                    }
                }
            }
        });

        check("PreparedStatement parameter round-trip (select ?, ?, ?, ?, ?)", () -> {
            try (Connection c = connect();
                 PreparedStatement ps = c.prepareStatement("select ? as i, ? as d, ? as s, ? as t, ? as b")) {
                ps.setInt(1, 42);
                ps.setDouble(2, 2.5);
                ps.setString(3, "Chajnantor");
                ps.setObject(4, OffsetDateTime.of(2026, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC));
                ps.setBoolean(5, true);
                ResultSet rs = ps.executeQuery();
                expect(rs.next(), "no row");
                expect(rs.getInt("i") == 42 && rs.getDouble("d") == 2.5 && "Chajnantor".equals(rs.getString("s"))
                        && rs.getBoolean("b"), "values " + rs.getString(1) + "," + rs.getString(2) + "," + rs.getString(3) + "," + rs.getString(5));
                Timestamp ts = rs.getTimestamp("t");
                expect(ts != null && ts.toInstant().toString().equals("2026-01-02T03:04:05Z"), "timestamp param " + (ts == null ? null : ts.toInstant()));
                ResultSetMetaData md = rs.getMetaData();
                List<String> types = new ArrayList<>();
                for (int i = 1; i <= 5; i++) types.add(md.getColumnTypeName(i));
                // pgjdbc declares int4, float8, varchar, timestamptz (setObject(OffsetDateTime)), bool in Parse
                expect(types.equals(List.of("int4", "float8", "varchar", "timestamptz", "bool")),
                        "result column types " + types + " (PostgreSQL types `select $1` by the declared parameter type)");
            }
        });

        check("PreparedStatement setNull + setLong + setBigDecimal", () -> {
            try (Connection c = connect();
                 PreparedStatement ps = c.prepareStatement("select count(*) from ops.executions where band = ? or ? is null or ? > 0")) {
                ps.setLong(1, 6);
                ps.setNull(2, Types.VARCHAR);
                ps.setBigDecimal(3, new java.math.BigDecimal("1.5"));
                ResultSet rs = ps.executeQuery();
                expect(rs.next() && rs.getLong(1) > 0, "count");
            }
        });

        check("large ResultSet: autocommit off + setFetchSize(1000), 200k rows", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement(
                        "select time, antenna, value from monitor.samples where monitor_point = ? limit 200000")) {
                    ps.setFetchSize(1000);
                    ps.setString(1, "TOTAL_POWER");
                    ResultSet rs = ps.executeQuery();
                    long n = 0;
                    double sum = 0;
                    while (rs.next()) { n++; sum += rs.getDouble(3); rs.getTimestamp(1); }
                    expect(n == 200000, "rows " + n);
                    expect(sum != 0, "values all zero");
                }
                c.commit();
            }
        });

        check("large ResultSet: generate_series 200k with setFetchSize(1000)", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                try (Statement st = c.createStatement()) {
                    st.setFetchSize(1000);
                    ResultSet rs = st.executeQuery("select x from generate_series(1, 200000) as t(x)");
                    long n = 0, sum = 0;
                    while (rs.next()) { n++; sum += rs.getLong(1); }
                    expect(n == 200000 && sum == 200000L * 200001L / 2, "rows " + n + " sum " + sum);
                }
                c.commit();
            }
        });

        check("error SQLSTATE 42P01, and the connection stays usable", () -> {
            try (Connection c = connect(); Statement st = c.createStatement()) {
                try {
                    st.executeQuery("select * from monitor.no_such_table");
                    throw new CheckFailed("no error");
                } catch (SQLException e) {
                    expect("42P01".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState() + ": " + e.getMessage());
                }
                ResultSet rs = st.executeQuery("select 1");
                expect(rs.next() && rs.getInt(1) == 1, "select 1 after the error");
            }
        });

        check("DBeaver-style session setup: SET application_name, SHOW search_path, current_schema()", () -> {
            try (Connection c = connect(); Statement st = c.createStatement()) {
                st.execute("SET application_name = 'DBeaver 24.0.0 - Main'");
                ResultSet rs = st.executeQuery("SHOW search_path");
                expect(rs.next() && rs.getString(1).contains("public"), "search_path");
                rs = st.executeQuery("select current_schema(), session_user, current_database()");
                expect(rs.next() && "almasql".equals(rs.getString(3)), "current_database " + rs.getString(3));
                c.setSchema("monitor");
                expect("monitor".equals(c.getSchema()), "getSchema after setSchema: " + c.getSchema());
            }
        });

        System.out.flush();
        if (!failed.isEmpty()) {
            System.err.println("Compat (JDBC): " + failed.size() + " check(s) failed: " + failed);
            System.exit(1);
        }
        System.out.println("Compat (JDBC): all checks passed");
    }
}
