package io.onceflow.wal.jdbc;

import java.io.Serializable;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Where the database is: a JDBC URL and credentials. */
record JdbcConnections(String url, String user, String password) implements Serializable {

    Connection open() throws SQLException {
        Properties p = new Properties();
        if (user != null) {
            p.setProperty("user", user);
        }
        if (password != null) {
            p.setProperty("password", password);
        }
        try {
            return DriverManager.getConnection(url, p);
        } catch (SQLException e) {
            throw new SQLException("Could not connect to " + url + (user != null ? " as " + user : "") + ": "
                    + e.getMessage() + " (is the database running, and its JDBC driver on the classpath?)",
                    e.getSQLState(), e.getErrorCode(), e);
        }
    }

    @Override
    public String toString() {
        return url;
    }
}
