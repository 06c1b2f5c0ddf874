package io.onceflow.wal.jdbc;

import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.sinks.jdbc.SqlErrors;
import io.onceflow.wal.TransactionalWalSender;
import io.onceflow.wal.WriteAheadSink;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write-ahead sink into a database over JDBC, exactly once without a duplicate window: each completed
 * checkpoint's batch is inserted <em>and</em> recorded in the commit table in one database transaction,
 * so after a crash at any moment the batch is either there with its record or not there at all. Works for
 * any statement, including inserts into an append-only table with no unique key, where an idempotent
 * upsert cannot help.
 *
 * <p>What one subtask does for a batch, in one transaction: {@code SELECT … FOR UPDATE} its row of the
 * commit table (so a second, stale instance of the job waits and then finds the batch recorded); if the
 * row says the checkpoint was sent, nothing; otherwise executes the statement for every record, in JDBC
 * batches of {@link Builder#setBatchSize}, and updates the row. Transient errors (lost connection,
 * deadlock, serialization failure) roll back and retry with backoff; any other error fails the job,
 * naming the checkpoint and the database's message.
 *
 * <pre>{@code
 * stream.sinkTo(JdbcWriteAheadSink.<String>builder(Serializers.STRING)
 *         .setJdbcUrl("jdbc:postgresql://localhost:5432/app").setUsername("app").setPassword(secret)
 *         .setSql("INSERT INTO events (word, n) VALUES (?, ?)")
 *         .setStatementBuilder((ps, line) -> { ps.setString(1, ...); ps.setLong(2, ...); })
 *         .build()).uid("events");
 * }</pre>
 */
public final class JdbcWriteAheadSink {
    private static final Logger LOG = LoggerFactory.getLogger(JdbcWriteAheadSink.class);

    private JdbcWriteAheadSink() {
    }

    /** A builder for records written to the log with {@code serializer}. */
    public static <T> Builder<T> builder(TypeSerializer<T> serializer) {
        return new Builder<>(serializer);
    }

    /** Builds the write-ahead sink; URL, SQL and statement builder are required. */
    public static final class Builder<T> {
        private final TypeSerializer<T> serializer;
        private String url;
        private String user;
        private String password;
        private String sql;
        private JdbcStatementBuilder<T> statementBuilder;
        private String commitTable = CommitTable.DEFAULT_NAME;
        private int batchSize = 1000;
        private int maxRetries = 5;
        private Duration retryBackoff = Duration.ofMillis(200);
        private Path spillDirectory;
        private String createTable;

        private Builder(TypeSerializer<T> serializer) {
            this.serializer = Objects.requireNonNull(serializer, "serializer");
        }

        public Builder<T> setJdbcUrl(String url) {
            this.url = url;
            return this;
        }

        public Builder<T> setUsername(String user) {
            this.user = user;
            return this;
        }

        public Builder<T> setPassword(String password) {
            this.password = password;
            return this;
        }

        /** The statement run for each record, with parameters, e.g. {@code INSERT INTO t (a, b) VALUES (?, ?)}. */
        public Builder<T> setSql(String sql) {
            this.sql = sql;
            return this;
        }

        public Builder<T> setStatementBuilder(JdbcStatementBuilder<T> statementBuilder) {
            this.statementBuilder = statementBuilder;
            return this;
        }

        /** The commit table (default {@code onceflow_wal_commits}), created when missing. */
        public Builder<T> setCommitTable(String table) {
            this.commitTable = new CommitTable(table).name();
            return this;
        }

        /** Records per JDBC batch within the one transaction of a checkpoint (default 1000). */
        public Builder<T> setBatchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be at least 1, not " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /** Retries of a transaction that failed with a transient error (default 5, backoff 200 ms doubling). */
        public Builder<T> setRetries(int maxRetries, Duration backoff) {
            this.maxRetries = maxRetries;
            this.retryBackoff = backoff;
            return this;
        }

        /**
         * DDL run when the job starts if the table of an {@code INSERT INTO table ...} statement is missing
         * (default: none, a missing table stops the start).
         */
        public Builder<T> setCreateTableIfMissing(String ddl) {
            this.createTable = ddl;
            return this;
        }

        /** See {@link WriteAheadSink.Builder#setSpillDirectory}. */
        public Builder<T> setSpillDirectory(Path spillDirectory) {
            this.spillDirectory = spillDirectory;
            return this;
        }

        public WriteAheadSink<T> build() {
            if (url == null || url.isBlank()) {
                throw new IllegalStateException("JDBC write-ahead sink: set the database with setJdbcUrl(\"jdbc:postgresql://"
                        + "host:5432/db\") or jdbc:mariadb://host:3306/db");
            }
            if (sql == null || sql.isBlank() || statementBuilder == null) {
                throw new IllegalStateException("JDBC write-ahead sink: set the statement with setSql(\"INSERT INTO t (a, b) "
                        + "VALUES (?, ?)\") and how a record fills it with setStatementBuilder((ps, record) -> ...)");
            }
            JdbcConnections db = new JdbcConnections(url, user, password);
            String table = commitTable;
            String statement = sql;
            JdbcStatementBuilder<T> filler = statementBuilder;
            int batch = batchSize;
            int retries = maxRetries;
            long backoffMillis = retryBackoff.toMillis();
            WriteAheadSink.Builder<T> b = WriteAheadSink.builder(serializer)
                    .setTransactionalSender(context -> new Sender<>(context, db, new CommitTable(table), statement, filler,
                            batch, retries, backoffMillis).open())
                    .setValidator(new Validator(db, table, statement, createTable));
            if (spillDirectory != null) {
                b.setSpillDirectory(spillDirectory);
            }
            return b.build();
        }
    }

    private static final java.util.regex.Pattern INSERT_INTO = java.util.regex.Pattern.compile(
            "^\\s*INSERT\\s+INTO\\s+([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)?)",
            java.util.regex.Pattern.CASE_INSENSITIVE);

    /** At job start: the database answers, the commit table exists (or is created), the statement compiles. */
    private record Validator(JdbcConnections db, String table, String sql, String createTable)
            implements ValidatesConfiguration {
        @Override
        public void validate(Context context) throws Exception {
            try (Connection c = db.open()) {
                new CommitTable(table).createIfMissing(c);
                c.setAutoCommit(false);
                try {
                    java.util.regex.Matcher insert = INSERT_INTO.matcher(sql);
                    if (insert.find() && !CommitTable.tableExists(c, insert.group(1))) {
                        if (createTable == null) {
                            throw new SQLException("table " + insert.group(1) + " does not exist", "42S02");
                        }
                        try (java.sql.Statement s = c.createStatement()) {
                            s.execute(createTable);
                        }
                        c.commit();
                        LOG.info("Write-ahead sink '{}': created table {} ({})", context.operatorUid(), insert.group(1),
                                createTable);
                    }
                    // PostgreSQL parses the statement here (a driver that prepares on the client side does not)
                    try (PreparedStatement ps = c.prepareStatement(sql)) {
                        ps.getParameterMetaData();
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException("Write-ahead sink '" + context.operatorUid() + "': the statement '"
                            + sql + "' does not work on " + db + ": " + SqlErrors.describe(e)
                            + ". Create the table it writes, or fix the statement", e);
                } finally {
                    c.rollback();
                }
            }
        }
    }

    /** One subtask's sender: each batch and its commit row in one transaction. */
    private static final class Sender<T> implements TransactionalWalSender<T> {
        private final JdbcConnections db;
        private final CommitTable table;
        private final String sql;
        private final JdbcStatementBuilder<T> filler;
        private final int batchSize;
        private final int maxRetries;
        private final long backoffMillis;
        private final String job;
        private final String operator;
        private final SinkInitContext context;
        private boolean freshStart;
        private Connection connection;

        Sender(SinkInitContext context, JdbcConnections db, CommitTable table, String sql, JdbcStatementBuilder<T> filler,
               int batchSize, int maxRetries, long backoffMillis) {
            this.db = db;
            this.table = table;
            this.sql = sql;
            this.filler = filler;
            this.batchSize = batchSize;
            this.maxRetries = maxRetries;
            this.backoffMillis = backoffMillis;
            this.context = context;
            this.job = context.getJobName();
            this.operator = context.getOperatorUid();
            this.freshStart = context.getRestoredCheckpointId().isEmpty();
        }

        private Connection connection() throws SQLException {
            if (connection == null) {
                connection = table.open(db, context, freshStart);
                freshStart = false;
            }
            return connection;
        }

        /** Creates the sender's connection now, so a fresh start forgets earlier runs before anything is sent. */
        Sender<T> open() throws SQLException {
            connection();
            return this;
        }

        @Override
        public Outcome sendAndRecord(Iterable<T> values, long checkpointId, int subtask) throws Exception {
            for (int attempt = 0; ; attempt++) {
                try {
                    return once(values, checkpointId, subtask);
                } catch (SQLException e) {
                    closeConnection();
                    if (!SqlErrors.isTransient(e) || attempt >= maxRetries) {
                        throw new IllegalStateException("Write-ahead sink '" + operator + "' could not write the batch of "
                                + "checkpoint " + checkpointId + " (subtask " + subtask + ") to " + db + ": "
                                + SqlErrors.describe(e) + (SqlErrors.isTransient(e) ? " (after " + attempt + " retries)"
                                : ". Nothing of the batch was written; fix the table or the statement, then restart: "
                                + "the batch is sent again from the checkpoint"), e);
                    }
                    long sleep = backoffMillis << Math.min(attempt, 6);
                    LOG.warn("Write-ahead sink '{}': transient error writing checkpoint {} (subtask {}), retry {} of {} in "
                            + "{} ms: {}", operator, checkpointId, subtask, attempt + 1, maxRetries, sleep,
                            SqlErrors.describe(e));
                    Thread.sleep(sleep);
                }
            }
        }

        private Outcome once(Iterable<T> values, long checkpointId, int subtask) throws SQLException {
            Connection c = connection();
            boolean done = false;
            try {
                long last = table.lastSent(c, job, operator, subtask, true);
                if (last >= checkpointId) {
                    c.rollback();
                    done = true;
                    return Outcome.ALREADY_SENT;
                }
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    int pending = 0;
                    for (T value : values) {
                        filler.accept(ps, value);
                        ps.addBatch();
                        if (++pending == batchSize) {
                            ps.executeBatch();
                            pending = 0;
                        }
                    }
                    if (pending > 0) {
                        ps.executeBatch();
                    }
                }
                table.record(c, job, operator, subtask, checkpointId, last);
                c.commit();
                done = true;
                return Outcome.SENT;
            } finally {
                if (!done) {
                    try {
                        c.rollback();
                    } catch (SQLException e) {
                        // the connection is closed by the caller
                    }
                }
            }
        }

        @Override
        public boolean isRecorded(int subtask, long checkpointId) throws SQLException {
            Connection c = connection();
            try {
                return table.lastSent(c, job, operator, subtask, false) >= checkpointId;
            } finally {
                c.rollback();
            }
        }

        private void closeConnection() {
            if (connection != null) {
                try {
                    connection.close();
                } catch (SQLException e) {
                    // closing only
                }
                connection = null;
            }
        }

        @Override
        public void close() {
            closeConnection();
        }
    }
}
