package io.onceflow.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

/**
 * The real database servers the tests write to: PostgreSQL on 127.0.0.1:5432 (database {@code test}, user
 * {@code postgres}) and MariaDB on 127.0.0.1:3306 (database {@code test}, user {@code root}), or others
 * given with {@code -Donceflow.test.postgres.url=…} / {@code -Donceflow.test.mariadb.url=…} (and
 * {@code .user}, {@code .password}). A server that does not answer fails the test, naming it and saying
 * how to start it: never a silent skip. The JDBC driver of each is the test's own dependency.
 */
public enum TestDatabase {
    POSTGRESQL("postgres", "jdbc:postgresql://127.0.0.1:5432/test", "postgres", "",
            "sudo service postgresql start (or pg_ctlcluster 15 main start)"),
    MARIADB("mariadb", "jdbc:mariadb://127.0.0.1:3306/test", "root", "",
            "sudo service mariadb start");

    private final String key;
    private final String defaultUrl;
    private final String defaultUser;
    private final String defaultPassword;
    private final String howToStart;

    TestDatabase(String key, String defaultUrl, String defaultUser, String defaultPassword, String howToStart) {
        this.key = key;
        this.defaultUrl = defaultUrl;
        this.defaultUser = defaultUser;
        this.defaultPassword = defaultPassword;
        this.howToStart = howToStart;
    }

    public String url() {
        return System.getProperty("onceflow.test." + key + ".url", defaultUrl);
    }

    public String user() {
        return System.getProperty("onceflow.test." + key + ".user", defaultUser);
    }

    public String password() {
        return System.getProperty("onceflow.test." + key + ".password", defaultPassword);
    }

    public Properties properties() {
        Properties p = new Properties();
        p.setProperty("user", user());
        p.setProperty("password", password());
        return p;
    }

    /** A connection (auto-commit), or a failure that names the server and how to start it. */
    public Connection connect() {
        try {
            return DriverManager.getConnection(url(), properties());
        } catch (SQLException e) {
            throw new AssertionError(this + " at " + url() + " (user " + user() + ") is not reachable: " + e.getMessage()
                    + ". These tests need it running: start it (" + howToStart + "), or point them at another "
                    + "server with -Donceflow.test." + key + ".url=jdbc:...", e);
        }
    }

    /** A table name no other run uses. */
    public static String freshTableName(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    }

    /**
     * Executes a statement of a test, failing after a minute rather than waiting for ever: a transaction left
     * prepared on a table (a test that failed, or a server that lost track of one) holds its locks, and a statement
     * waiting on them would hang the build.
     */
    public void execute(String sql) {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.setQueryTimeout(60);
            s.execute(sql);
        } catch (SQLException e) {
            throw new AssertionError(this + ": " + sql + " failed (if on a lock: a prepared transaction left on the "
                    + "table? see XA RECOVER, or pg_prepared_xacts): " + e.getMessage(), e);
        }
    }

    /** The (word, count) table the tests' jobs write: the word is the primary key. */
    public void createCountsTable(String table) {
        execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL PRIMARY KEY, count BIGINT NOT NULL)");
    }

    public void drop(String table) {
        execute("DROP TABLE IF EXISTS " + table);
    }

    /** Every row of a (word, count) table, read independently of the job. */
    public Map<String, Long> readCounts(String table) {
        Map<String, Long> counts = new HashMap<>();
        try (Connection c = connect(); Statement s = c.createStatement();
             var rs = s.executeQuery("SELECT word, count FROM " + table)) {
            while (rs.next()) {
                counts.put(rs.getString(1), rs.getLong(2));
            }
        } catch (SQLException e) {
            throw new AssertionError(this + ": reading " + table + " failed: " + e.getMessage(), e);
        }
        return counts;
    }
}
