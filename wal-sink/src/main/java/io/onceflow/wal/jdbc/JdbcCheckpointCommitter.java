package io.onceflow.wal.jdbc;

import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.wal.CheckpointCommitter;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * A {@link CheckpointCommitter} that keeps its record in a database table (default {@code
 * onceflow_wal_commits}, created on first use; its schema is in the README and on {@code CommitTable}), for
 * a write-ahead sink that sends to some other system. The record is written in its own transaction after
 * the batch was sent, so the duplicate window of {@link CheckpointCommitter} stays; a sink whose output is
 * this same database should use {@link JdbcWriteAheadSink}, which has none.
 */
public final class JdbcCheckpointCommitter implements CheckpointCommitter {
    private final JdbcConnections db;
    private final CommitTable table;
    private final String job;
    private final String operator;
    private final SinkInitContext context;
    private boolean freshStart;
    private Connection connection;

    private JdbcCheckpointCommitter(JdbcConnections db, CommitTable table, SinkInitContext context) {
        this.db = db;
        this.table = table;
        this.context = context;
        this.job = context.getJobName();
        this.operator = context.getOperatorUid();
        this.freshStart = context.getRestoredCheckpointId().isEmpty();
    }

    /** Committers recording in {@code onceflow_wal_commits} of the database at {@code url}. */
    public static CheckpointCommitter.Factory factory(String url, String user, String password) {
        return factory(url, user, password, CommitTable.DEFAULT_NAME);
    }

    /** Committers recording in {@code table} of the database at {@code url}. */
    public static CheckpointCommitter.Factory factory(String url, String user, String password, String table) {
        JdbcConnections db = new JdbcConnections(url, user, password);
        String name = new CommitTable(table).name();
        return context -> {
            JdbcCheckpointCommitter c = new JdbcCheckpointCommitter(db, new CommitTable(name), context);
            c.connection();
            return c;
        };
    }

    private Connection connection() throws SQLException {
        if (connection == null || !connection.isValid(5)) {
            if (connection != null) {
                close();
            }
            // on a fresh start, earlier runs' checkpoint ids would make this run's batches look sent
            connection = table.open(db, context, freshStart);
            freshStart = false;
        }
        return connection;
    }

    @Override
    public boolean isCheckpointCommitted(int subtask, long checkpointId) throws SQLException {
        Connection c = connection();
        try {
            long last = table.lastSent(c, job, operator, subtask, false);
            c.commit();
            return last >= checkpointId;
        } catch (SQLException e) {
            c.rollback();
            throw e;
        }
    }

    @Override
    public void commitCheckpoint(int subtask, long checkpointId) throws SQLException {
        Connection c = connection();
        try {
            long last = table.lastSent(c, job, operator, subtask, true);
            if (last < checkpointId) {
                table.record(c, job, operator, subtask, checkpointId, last);
            }
            c.commit();
        } catch (SQLException e) {
            c.rollback();
            throw e;
        }
    }

    @Override
    public void close() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                // closing only
            }
            connection = null;
        }
    }
}
