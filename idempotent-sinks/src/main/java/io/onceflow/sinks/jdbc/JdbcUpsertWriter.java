package io.onceflow.sinks.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.metrics.Counter;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer of one subtask of a {@link JdbcUpsertSink}: buffers rows (one per key, the newest), and
 * writes them in one transaction when the batch is full and at every barrier, retrying transient errors.
 */
final class JdbcUpsertWriter<T> implements SinkWriter<T> {

    private static final Logger LOG = LoggerFactory.getLogger(JdbcUpsertWriter.class);

    private final JdbcUpsertSink<T> sink;
    private final SinkInitContext context;
    private final int[] keyIndexes;
    private final int versionIndex;
    private final Map<List<Object>, Pending<T>> buffer = new LinkedHashMap<>();
    private final Counter rowsWritten;
    private final Counter batchesWritten;
    private final Counter retries;
    private HikariDataSource dataSource;

    private record Pending<T>(T record, Object[] row) {
    }

    JdbcUpsertWriter(JdbcUpsertSink<T> sink, SinkInitContext context) {
        this.sink = sink;
        this.context = context;
        this.keyIndexes = sink.keyColumns.stream().mapToInt(sink.columns::indexOf).toArray();
        this.versionIndex = sink.versionColumn == null ? -1 : sink.columns.indexOf(sink.versionColumn);
        this.rowsWritten = context.getMetricGroup().counter("rowsWritten");
        this.batchesWritten = context.getMetricGroup().counter("batchesWritten");
        this.retries = context.getMetricGroup().counter("writeRetries");
    }

    private String who() {
        return "JDBC upsert sink '" + context.getOperatorUid() + "' subtask " + context.getIndexOfSubtask();
    }

    @Override
    public void write(T record) throws Exception {
        Object[] row;
        try {
            row = sink.rowMapper.toRow(record);
        } catch (Exception e) {
            throw new NonRecoverableException(who() + ": the row mapper failed on record " + record + ": " + e, e);
        }
        if (row == null || row.length != sink.columns.size()) {
            throw new NonRecoverableException(who() + ": the row mapper returned " + (row == null ? "null"
                    : row.length + " value(s)") + " for record " + record + ", but the sink writes " + sink.columns.size()
                    + " columns " + sink.columns + ": return one value per column, in that order");
        }
        List<Object> key = new ArrayList<>(keyIndexes.length);
        for (int i : keyIndexes) {
            key.add(row[i]);
        }
        Pending<T> fresh = new Pending<>(record, row);
        if (versionIndex < 0) {
            buffer.put(key, fresh); // the last write of a key wins
        } else {
            // an older version of a key already buffered with a newer one is dropped
            buffer.merge(key, fresh, (buffered, incoming) -> compareVersions(buffered, row, record) > 0 ? buffered : incoming);
        }
        if (buffer.size() >= sink.batchSize) {
            writeBuffered();
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private int compareVersions(Pending<T> buffered, Object[] row, T record) {
        Object a = buffered.row()[versionIndex];
        Object b = row[versionIndex];
        if (a == null || b == null) {
            return b == null ? 0 : -1;
        }
        if (a instanceof Number x && b instanceof Number y) {
            // exact for every mix of integral and decimal types
            return new java.math.BigDecimal(x.toString()).compareTo(new java.math.BigDecimal(y.toString()));
        }
        if (a instanceof Comparable c && a.getClass().isInstance(b)) {
            return c.compareTo(b);
        }
        throw new NonRecoverableException(who() + ": the version column " + sink.versionColumn + " of record " + record
                + " holds " + b + " (" + b.getClass().getName() + "), which cannot be compared with " + a + " ("
                + a.getClass().getName() + "): give the version column numbers, timestamps or strings");
    }

    @Override
    public void flush(boolean endOfInput) throws Exception {
        writeBuffered();
    }

    /** Writes the buffered rows in one transaction, retrying transient failures; empties the buffer. */
    private void writeBuffered() throws Exception {
        if (buffer.isEmpty()) {
            return;
        }
        Collection<Pending<T>> rows = buffer.values();
        long backoff = sink.initialBackoff.toMillis();
        for (int attempt = 0; ; attempt++) {
            try {
                writeBatch(rows);
                rowsWritten.inc(rows.size());
                batchesWritten.inc();
                buffer.clear();
                return;
            } catch (SQLException e) {
                if (!SqlErrors.isTransient(e)) {
                    throw refused(rows, e);
                }
                if (attempt >= sink.maxRetries) {
                    throw new IllegalStateException(who() + ": writing " + rows.size() + " row(s) to " + sink.table
                            + " kept failing on a transient error after " + sink.maxRetries + " retries: "
                            + SqlErrors.describe(e) + ". The job restarts from its last checkpoint and writes them again",
                            e);
                }
                retries.inc();
                LOG.warn("{}: writing {} row(s) to {} failed on a transient error (retry {} of {} in {} ms): {}", who(),
                        rows.size(), sink.table, attempt + 1, sink.maxRetries, backoff, SqlErrors.describe(e));
                Thread.sleep(backoff);
                backoff = Math.min(sink.maxBackoff.toMillis(), Math.max(1, backoff * 2));
            }
        }
    }

    private void writeBatch(Collection<Pending<T>> rows) throws SQLException {
        try (Connection c = dataSource().getConnection()) {
            try (PreparedStatement ps = c.prepareStatement(sink.upsertSql)) {
                for (Pending<T> p : rows) {
                    bind(ps, p.row());
                    ps.addBatch();
                }
                ps.executeBatch();
                c.commit();
            } catch (SQLException e) {
                rollbackQuietly(c);
                throw e;
            }
        }
    }

    private static void bind(PreparedStatement ps, Object[] row) throws SQLException {
        for (int i = 0; i < row.length; i++) {
            ps.setObject(i + 1, row[i]);
        }
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is broken: the pool drops it, the database rolls back
        }
    }

    /**
     * A batch failed for good: finds the row the database refuses (each alone, in a transaction rolled
     * back at the end), so the error can name its record.
     */
    private NonRecoverableException refused(Collection<Pending<T>> rows, SQLException batchFailure) {
        Pending<T> culprit = null;
        SQLException reason = batchFailure;
        try (Connection c = dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sink.upsertSql)) {
            try {
                for (Pending<T> p : rows) {
                    bind(ps, p.row());
                    try {
                        ps.executeUpdate();
                    } catch (SQLException e) {
                        culprit = p;
                        reason = e;
                        break;
                    }
                }
            } finally {
                rollbackQuietly(c);
            }
        } catch (SQLException e) {
            LOG.debug("{}: could not single out the refused row: {}", who(), e.toString());
        }
        String what = culprit == null ? "a batch of " + rows.size() + " row(s)"
                : "the row " + sink.describeRow(culprit.row()) + " of record " + culprit.record();
        return new NonRecoverableException(who() + ": " + sink.table + " refused " + what + ": "
                + SqlErrors.describe(reason) + ". A retry cannot fix this, so the job stops: fix the table (its "
                + "columns, types or constraints) or the job's row mapping, then start the job again; it resumes from "
                + "its last checkpoint and writes the rows since then again", reason);
    }

    private HikariDataSource dataSource() {
        if (dataSource == null) {
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(sink.jdbcUrl);
            config.setDataSourceProperties(sink.connectionProperties);
            config.setAutoCommit(false);
            config.setMaximumPoolSize(2);
            config.setMinimumIdle(0);
            config.setConnectionTimeout(10_000);
            // a pool that cannot connect now is not an error yet: the batch's retries handle it
            config.setInitializationFailTimeout(-1);
            config.setPoolName("onceflow-" + context.getOperatorUid() + "-" + context.getIndexOfSubtask());
            dataSource = new HikariDataSource(config);
        }
        return dataSource;
    }

    @Override
    public void close() {
        if (dataSource != null) {
            dataSource.close();
        }
        if (!buffer.isEmpty()) {
            // not written: the job restarts from a checkpoint from before these records
            LOG.debug("{}: {} buffered row(s) dropped at close", who(), buffer.size());
        }
    }

    @Override
    public String toString() {
        return who() + " " + Arrays.toString(sink.keyColumns.toArray());
    }
}
