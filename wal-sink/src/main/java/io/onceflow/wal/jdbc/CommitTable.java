package io.onceflow.wal.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.regex.Pattern;

/**
 * The table that records which write-ahead batches were sent: one row per (job, operator, writer
 * subtask) holding the highest checkpoint sent. Created on first use:
 *
 * <pre>
 * CREATE TABLE onceflow_wal_commits (
 *   job_name      VARCHAR(200) NOT NULL,
 *   operator_uid  VARCHAR(200) NOT NULL,
 *   subtask       INT          NOT NULL,
 *   checkpoint_id BIGINT       NOT NULL,
 *   committed_at  TIMESTAMP    NULL,
 *   PRIMARY KEY (job_name, operator_uid, subtask))
 * </pre>
 */
final class CommitTable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CommitTable.class);
    static final String DEFAULT_NAME = "onceflow_wal_commits";
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?");

    private final String table;

    CommitTable(String table) {
        if (table == null || !NAME.matcher(table).matches()) {
            throw new IllegalArgumentException("Commit table name '" + table + "' is not a plain SQL name: use letters, "
                    + "digits and underscores, optionally schema.table");
        }
        this.table = table;
    }

    String name() {
        return table;
    }

    /** Creates the table unless it exists; a concurrent creation by another subtask is fine. */
    void createIfMissing(Connection c) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(true);
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS " + table + " (job_name VARCHAR(200) NOT NULL, "
                    + "operator_uid VARCHAR(200) NOT NULL, subtask INT NOT NULL, checkpoint_id BIGINT NOT NULL, "
                    + "committed_at TIMESTAMP NULL, PRIMARY KEY (job_name, operator_uid, subtask))");
        } catch (SQLException e) {
            // PostgreSQL: two sessions creating the same table at once, one fails on the catalog's unique index
            if (!tableExists(c, table)) {
                throw e;
            }
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    /**
     * Whether {@code name} is a table the connection can read. A failed probe inside a transaction is rolled
     * back: PostgreSQL refuses anything else in a failed transaction.
     */
    static boolean tableExists(Connection c, String name) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1 FROM " + name + " WHERE 1 = 0")) {
            return true;
        } catch (SQLException e) {
            if (!c.getAutoCommit()) {
                c.rollback();
            }
            return false;
        }
    }

    /**
     * A connection for one sink subtask's use of the table (auto-commit off), the table created if missing;
     * on a fresh start ({@code forgetEarlierRuns}) the rows of earlier runs are forgotten first.
     */
    Connection open(JdbcConnections db, io.onceflow.api.sink.SinkInitContext context, boolean forgetEarlierRuns)
            throws SQLException {
        Connection c = db.open();
        try {
            createIfMissing(c);
            if (forgetEarlierRuns) {
                int forgotten = forgetEarlierRuns(c, context.getJobName(), context.getOperatorUid(),
                        context.getIndexOfSubtask(), context.getParallelism());
                if (forgotten > 0) {
                    LOG.info("Write-ahead sink '{}' subtask {}: a fresh start of job '{}' (no checkpoint to restore): "
                            + "forgot {} commit row(s) of earlier runs in {}", context.getOperatorUid(),
                            context.getIndexOfSubtask(), context.getJobName(), forgotten, table);
                }
            }
            c.setAutoCommit(false);
            return c;
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    /**
     * The highest checkpoint recorded for (job, operator, subtask), or -1; with {@code forUpdate} the row is
     * locked until the transaction ends, so two instances cannot both send the same batch.
     */
    long lastSent(Connection c, String job, String operator, int subtask, boolean forUpdate) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT checkpoint_id FROM " + table
                + " WHERE job_name = ? AND operator_uid = ? AND subtask = ?" + (forUpdate ? " FOR UPDATE" : ""))) {
            ps.setString(1, job);
            ps.setString(2, operator);
            ps.setInt(3, subtask);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : -1;
            }
        }
    }

    /**
     * Forgets what earlier runs of the job sent, on a fresh start (no checkpoint restored): their rows hold
     * checkpoint ids this run counts up to again from 1, and would make it skip its own batches as sent.
     * Removes this subtask's row and, with the rows of subtasks the job no longer has, every subtask index
     * from {@code parallelism} up. Returns how many rows it removed.
     */
    int forgetEarlierRuns(Connection c, String job, String operator, int subtask, int parallelism) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(true);
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table
                + " WHERE job_name = ? AND operator_uid = ? AND (subtask = ? OR subtask >= ?)")) {
            ps.setString(1, job);
            ps.setString(2, operator);
            ps.setInt(3, subtask);
            ps.setInt(4, parallelism);
            return ps.executeUpdate();
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    /** Records {@code checkpointId} as sent, in the caller's transaction; {@code previous} from {@link #lastSent}. */
    void record(Connection c, String job, String operator, int subtask, long checkpointId, long previous)
            throws SQLException {
        String sql = previous < 0
                ? "INSERT INTO " + table + " (checkpoint_id, committed_at, job_name, operator_uid, subtask) VALUES (?, ?, ?, ?, ?)"
                : "UPDATE " + table + " SET checkpoint_id = ?, committed_at = ? WHERE job_name = ? AND operator_uid = ? AND subtask = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, checkpointId);
            ps.setTimestamp(2, new Timestamp(System.currentTimeMillis()));
            ps.setString(3, job);
            ps.setString(4, operator);
            ps.setInt(5, subtask);
            ps.executeUpdate();
        }
    }
}
