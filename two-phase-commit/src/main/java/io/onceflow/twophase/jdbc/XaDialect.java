package io.onceflow.twophase.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** How a database family spells the steps of a prepared (XA) transaction. */
enum XaDialect {
    /** MariaDB and MySQL: {@code XA START / END / PREPARE / COMMIT / ROLLBACK / RECOVER}. */
    MYSQL {
        @Override
        void begin(Connection c, String xid) throws SQLException {
            c.setAutoCommit(true);
            execute(c, "XA START '" + xid + "'");
        }

        @Override
        void prepare(Connection c, String xid) throws SQLException {
            execute(c, "XA END '" + xid + "'");
            execute(c, "XA PREPARE '" + xid + "'");
        }

        @Override
        void rollbackOpen(Connection c, String xid) throws SQLException {
            try {
                execute(c, "XA END '" + xid + "'");
            } catch (SQLException e) {
                // already ended (a failed prepare)
            }
            execute(c, "XA ROLLBACK '" + xid + "'");
        }

        @Override
        void commitPrepared(Connection c, String xid) throws SQLException {
            c.setAutoCommit(true);
            execute(c, "XA COMMIT '" + xid + "'");
        }

        @Override
        void rollbackPrepared(Connection c, String xid) throws SQLException {
            c.setAutoCommit(true);
            execute(c, "XA ROLLBACK '" + xid + "'");
        }

        @Override
        boolean unknownTransaction(SQLException e) {
            return e.getErrorCode() == 1397 || "XAE04".equals(e.getSQLState()); // ER_XAER_NOTA: unknown XID
        }

        @Override
        List<String> prepared(Connection c) throws SQLException {
            List<String> xids = new ArrayList<>();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("XA RECOVER")) {
                while (rs.next()) {
                    int gtridLength = rs.getInt("gtrid_length");
                    xids.add(rs.getString("data").substring(0, gtridLength));
                }
            }
            return xids;
        }

        @Override
        String cannotPrepare(Connection c) {
            return null;
        }
    },
    /** PostgreSQL: {@code PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED}, {@code pg_prepared_xacts}. */
    POSTGRESQL {
        @Override
        void begin(Connection c, String xid) throws SQLException {
            c.setAutoCommit(false);
        }

        @Override
        void prepare(Connection c, String xid) throws SQLException {
            execute(c, "PREPARE TRANSACTION '" + xid + "'");
        }

        @Override
        void rollbackOpen(Connection c, String xid) throws SQLException {
            c.rollback();
        }

        @Override
        void commitPrepared(Connection c, String xid) throws SQLException {
            c.setAutoCommit(true);
            execute(c, "COMMIT PREPARED '" + xid + "'");
        }

        @Override
        void rollbackPrepared(Connection c, String xid) throws SQLException {
            c.setAutoCommit(true);
            execute(c, "ROLLBACK PREPARED '" + xid + "'");
        }

        @Override
        boolean unknownTransaction(SQLException e) {
            return "42704".equals(e.getSQLState()); // undefined_object: no prepared transaction of that id
        }

        @Override
        List<String> prepared(Connection c) throws SQLException {
            List<String> xids = new ArrayList<>();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")) {
                while (rs.next()) {
                    xids.add(rs.getString(1));
                }
            }
            return xids;
        }

        @Override
        String cannotPrepare(Connection c) throws SQLException {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW max_prepared_transactions")) {
                rs.next();
                int max = Integer.parseInt(rs.getString(1));
                return max > 0 ? null : "max_prepared_transactions is 0 on this server, so it cannot prepare transactions";
            }
        }
    };

    abstract void begin(Connection c, String xid) throws SQLException;

    /** Ends the transaction's work and prepares it: after this it survives a crash, and the connection may close. */
    abstract void prepare(Connection c, String xid) throws SQLException;

    abstract void rollbackOpen(Connection c, String xid) throws SQLException;

    abstract void commitPrepared(Connection c, String xid) throws SQLException;

    abstract void rollbackPrepared(Connection c, String xid) throws SQLException;

    /** Whether {@code e} says the database knows no prepared transaction of that id. */
    abstract boolean unknownTransaction(SQLException e);

    /** The ids of every prepared transaction the database holds. */
    abstract List<String> prepared(Connection c) throws SQLException;

    /** Why this server cannot prepare transactions, or null if it can. */
    abstract String cannotPrepare(Connection c) throws SQLException;

    static XaDialect of(String jdbcUrl) {
        String url = jdbcUrl == null ? "" : jdbcUrl.toLowerCase(Locale.ROOT);
        if (url.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        if (url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:")) {
            return MYSQL;
        }
        throw new IllegalArgumentException("JDBC URL '" + jdbcUrl + "' is of no database the XA sink knows: use "
                + "jdbc:mariadb://host:3306/db, jdbc:mysql://host:3306/db or jdbc:postgresql://host:5432/db");
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
