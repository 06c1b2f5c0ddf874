package io.onceflow.sinks.jdbc;

import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;

/** Which database errors a retry can fix: a lost connection, a deadlock, a serialization failure. */
public final class SqlErrors {

    private SqlErrors() {
    }

    /** Whether {@code e}, or an exception chained to it, is transient. */
    public static boolean isTransient(SQLException e) {
        for (Throwable t = e; t != null; t = next(t)) {
            if (t instanceof SQLTransientException || t instanceof SQLRecoverableException) {
                return true;
            }
            if (t instanceof SQLException s && isTransient(s.getSQLState(), s.getErrorCode())) {
                return true;
            }
        }
        return false;
    }

    static boolean isTransient(String sqlState, int vendorCode) {
        if (sqlState != null) {
            if (sqlState.startsWith("08") // connection exceptions
                    || sqlState.startsWith("40") // transaction rollback: serialization failure, deadlock
                    || sqlState.startsWith("53") // PostgreSQL: insufficient resources
                    || sqlState.equals("57P01") || sqlState.equals("57P02") || sqlState.equals("57P03") // shutting down
                    || sqlState.equals("57014") // PostgreSQL: statement cancelled (timeout)
                    || sqlState.equals("55P03") // PostgreSQL: lock not available (lock_timeout)
                    || sqlState.equals("HYT00") || sqlState.equals("HYT01")) { // timeouts
                return true;
            }
        }
        // MySQL / MariaDB: lock wait timeout, deadlock, server gone away, lost connection
        return vendorCode == 1205 || vendorCode == 1213 || vendorCode == 2006 || vendorCode == 2013;
    }

    /** The SQLState and message of the most telling exception of the chain (a batch hides its cause). */
    public static String describe(SQLException e) {
        SQLException deepest = e;
        for (Throwable t = e; t != null; t = next(t)) {
            if (t instanceof SQLException s && s.getSQLState() != null) {
                deepest = s;
            }
        }
        return deepest.getMessage() + " [SQLState " + deepest.getSQLState() + ", error " + deepest.getErrorCode() + "]";
    }

    private static Throwable next(Throwable t) {
        if (t instanceof SQLException s && s.getNextException() != null && s.getNextException() != t) {
            return s.getNextException();
        }
        return t.getCause() == t ? null : t.getCause();
    }
}
