package io.onceflow.twophase.jdbc;

import io.onceflow.twophase.ForwardingTwoPhaseCommitSink;
import io.onceflow.twophase.TwoPhaseCommitSink;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * Exactly once into a database by prepared (XA) transactions, on the two-phase-commit template: each
 * subtask writes the records between two checkpoint barriers into one database transaction, prepares it at
 * the barrier ({@code XA PREPARE} on MariaDB and MySQL, {@code PREPARE TRANSACTION} on PostgreSQL) and
 * commits it when the checkpoint completes. A prepared transaction survives a crash of the job and of the
 * database; after a restart the job commits those its checkpoint refers to and rolls back the others of
 * its subtasks (found with {@code XA RECOVER} or {@code pg_prepared_xacts}).
 *
 * <p>PostgreSQL prepares transactions only with {@code max_prepared_transactions} above 0 (the default is
 * 0); the job refuses to start where it is 0 and says so. A prepared transaction holds its row locks until
 * committed: a subtask therefore keeps the records of a checkpoint until its barrier (up to
 * {@link Builder#setMaxBufferedRecords}) and writes them then, when the previous checkpoint's transaction has
 * been committed, so a key updated in every checkpoint does not wait on its own earlier lock. For the same
 * reason the sink needs one checkpoint at a time (the default), and a checkpoint that fails after the sink
 * prepared its transaction restarts the job from the last completed one, which rolls that transaction back.
 *
 * <pre>{@code
 * counts.sinkTo(JdbcXaSink.<String>builder()
 *         .setJdbcUrl("jdbc:mariadb://localhost:3306/app").setUsername("app").setPassword(secret)
 *         .setSql("INSERT INTO events (word, n) VALUES (?, ?)")
 *         .setStatementFiller((ps, line) -> { ... })
 *         .build()).uid("events");
 * }</pre>
 */
public final class JdbcXaSink<IN> extends ForwardingTwoPhaseCommitSink<IN, XaTransaction> {

    private final XaTransactionHandler<IN> handler;
    private final String url;
    private final String sql;
    private final String table;
    private final String createTable;

    private JdbcXaSink(Builder<IN> b) {
        this(b, new XaTransactionHandler<>(b.url, b.user, b.password, b.sql, b.filler, b.batchSize, b.maxBuffered));
    }

    private JdbcXaSink(Builder<IN> b, XaTransactionHandler<IN> handler) {
        super(TwoPhaseCommitSink.builder(handler).build());
        this.handler = handler;
        this.url = b.url;
        this.sql = b.sql;
        this.table = b.table;
        this.createTable = b.createTable;
    }

    public static <IN> Builder<IN> builder() {
        return new Builder<>();
    }

    /** At job start: the database answers and can prepare transactions, and the statement works on it. */
    @Override
    public void validate(Context context) throws Exception {
        super.validate(context);
        if (context.checkpointConfig().getMaxConcurrentCheckpoints() > 1
                && context.checkpointConfig().getMinPauseBetweenCheckpoints().isZero()) {
            throw new IllegalArgumentException("XA sink '" + context.operatorUid() + "' needs one checkpoint at a time, "
                    + "but max concurrent checkpoints is " + context.checkpointConfig().getMaxConcurrentCheckpoints()
                    + ": a checkpoint's prepared transaction locks its rows until that checkpoint completes, and the "
                    + "next one's writes to the same rows would wait on them. Leave setMaxConcurrentCheckpoints at 1");
        }
        try (Connection c = handler.connect()) {
            String cannot = handler.dialect().cannotPrepare(c);
            if (cannot != null) {
                throw new IllegalStateException("XA sink '" + context.operatorUid() + "': " + url + ": " + cannot
                        + ". Set max_prepared_transactions in postgresql.conf (at least the number of subtasks of every "
                        + "XA sink writing to it, e.g. 100) and restart PostgreSQL, or write through the write-ahead "
                        + "sink (JdbcWriteAheadSink, wordcount --delivery write-ahead), which needs no prepared transactions");
            }
            if (createTable != null && !tableExists(c, table)) {
                try (java.sql.Statement s = c.createStatement()) {
                    s.execute(createTable);
                }
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.getParameterMetaData();
            } finally {
                c.rollback();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("XA sink '" + context.operatorUid() + "': " + url + " does not take the "
                    + "statement '" + sql + "': " + e.getMessage() + " [SQLState " + e.getSQLState() + "]. Is the "
                    + "database running, does the table exist?", e);
        }
    }

    private static boolean tableExists(Connection c, String table) throws SQLException {
        c.setAutoCommit(true);
        try (java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("SELECT 1 FROM " + table + " WHERE 1 = 0")) {
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    /** Configures a {@link JdbcXaSink}; URL, SQL and filler are required. */
    public static final class Builder<IN> {
        private String url;
        private String user;
        private String password;
        private String sql;
        private JdbcStatementFiller<IN> filler;
        private int batchSize = 1000;
        private int maxBuffered = 100_000;
        private String table;
        private String createTable;

        /** DDL run when the job starts if {@code table} does not exist (default: none). */
        public Builder<IN> setCreateTableIfMissing(String table, String ddl) {
            if (table == null || !table.matches("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?")) {
                throw new IllegalArgumentException("'" + table + "' is not a plain table name");
            }
            this.table = table;
            this.createTable = ddl;
            return this;
        }

        public Builder<IN> setJdbcUrl(String url) {
            this.url = url;
            return this;
        }

        public Builder<IN> setUsername(String user) {
            this.user = user;
            return this;
        }

        public Builder<IN> setPassword(String password) {
            this.password = password;
            return this;
        }

        /** The statement run for each record, e.g. {@code INSERT INTO t (a, b) VALUES (?, ?)}. */
        public Builder<IN> setSql(String sql) {
            this.sql = sql;
            return this;
        }

        public Builder<IN> setStatementFiller(JdbcStatementFiller<IN> filler) {
            this.filler = filler;
            return this;
        }

        /** Records per JDBC batch inside the transaction (default 1000). */
        public Builder<IN> setBatchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be at least 1, not " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /**
         * Records a subtask keeps in memory until the barrier (default 100,000); beyond, it writes them into
         * the open transaction at once, as soon as the previous checkpoint's transaction is committed (until
         * then it keeps buffering). Writes wait because that prepared transaction may still lock the same
         * rows until its commit, which runs on the same thread.
         */
        public Builder<IN> setMaxBufferedRecords(int maxBuffered) {
            if (maxBuffered < 1) {
                throw new IllegalArgumentException("max buffered records must be at least 1, not " + maxBuffered);
            }
            this.maxBuffered = maxBuffered;
            return this;
        }

        public JdbcXaSink<IN> build() {
            if (url == null || url.isBlank()) {
                throw new IllegalStateException("XA sink: set the database with setJdbcUrl(\"jdbc:mariadb://host:3306/db\")");
            }
            XaDialect.of(url);
            if (sql == null || sql.isBlank() || filler == null) {
                throw new IllegalStateException("XA sink: set the statement with setSql(\"INSERT INTO t (a, b) VALUES (?, ?)\") "
                        + "and how a record fills it with setStatementFiller((ps, record) -> ...)");
            }
            return new JdbcXaSink<>(this);
        }
    }
}
