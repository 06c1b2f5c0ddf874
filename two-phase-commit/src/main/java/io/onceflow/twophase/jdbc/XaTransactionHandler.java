package io.onceflow.twophase.jdbc;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.twophase.TransactionContext;
import io.onceflow.twophase.TransactionHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Properties;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The database's side of a {@link JdbcXaSink}: one prepared transaction per subtask and checkpoint. */
final class XaTransactionHandler<IN> implements TransactionHandler<IN, XaTransaction> {
    private static final Logger LOG = LoggerFactory.getLogger(XaTransactionHandler.class);

    private final String url;
    private final String user;
    private final String password;
    private final String sql;
    private final JdbcStatementFiller<IN> filler;
    private final int batchSize;
    private final int maxBuffered;
    private final XaDialect dialect;
    /** Different in every writer of every attempt: no two transactions ever get the same id. */
    private final String nonce = UUID.randomUUID().toString().substring(0, 6);
    /**
     * Subtask → the checkpoint whose prepared transaction it still has to commit: until then the subtask
     * writes nothing into the database, even beyond {@code maxBuffered}, since those rows may be locked.
     */
    private final java.util.Map<Integer, Long> awaitingCommit = new java.util.concurrent.ConcurrentHashMap<>();

    XaTransactionHandler(String url, String user, String password, String sql, JdbcStatementFiller<IN> filler,
                         int batchSize, int maxBuffered) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.sql = sql;
        this.filler = filler;
        this.batchSize = batchSize;
        this.maxBuffered = maxBuffered;
        this.dialect = XaDialect.of(url);
    }

    XaDialect dialect() {
        return dialect;
    }

    Connection connect() throws SQLException {
        Properties p = new Properties();
        if (user != null) {
            p.setProperty("user", user);
        }
        if (password != null) {
            p.setProperty("password", password);
        }
        return DriverManager.getConnection(url, p);
    }

    /**
     * The start of every id of one sink subtask: {@code of<hash of job and operator>-<subtask>-}, short enough
     * for MySQL's 64-byte global transaction ids whatever the names.
     */
    static String prefix(String jobName, String operatorUid, int subtask) {
        return "of" + String.format(Locale.ROOT, "%08x", (jobName + "\u0000" + operatorUid).hashCode()) + "-" + subtask + "-";
    }

    @Override
    public XaTransaction beginTransaction(TransactionContext context) {
        if (context.sequenceNumber() == 0) {
            // a new writer: what its subtask prepared before was committed or rolled back when it started
            awaitingCommit.remove(context.subtaskIndex());
        }
        // the database transaction starts with the first record: an empty one costs nothing
        return new XaTransaction(context.subtaskIndex(), prefix(context.jobName(), context.operatorUid(), context.subtaskIndex())
                + context.restoredCheckpointId() + "-" + context.sequenceNumber() + "-" + nonce);
    }

    /**
     * Keeps the record until the barrier, up to {@code maxBuffered} records: the previous checkpoint's
     * prepared transaction may still hold locks on the same rows (a running count updates the same key
     * again) until that checkpoint's completion is handled, on this same thread. Writing at once would wait
     * for those locks, and the commit that releases them could never run: the database's lock wait timeout
     * would fail the job at every checkpoint. At the barrier that commit has happened: checkpoints do not
     * overlap (the sink refuses more than one at a time), and a failed one restarts the job.
     */
    @Override
    public void write(XaTransaction t, IN value) throws Exception {
        t.buffered.add(value);
        t.written++;
        if (t.buffered.size() >= maxBuffered && !awaitingCommit.containsKey(t.subtask())) {
            drain(t);
        }
    }

    /** Executes the buffered records in the transaction, starting it on the first. */
    @SuppressWarnings("unchecked")
    private void drain(XaTransaction t) throws SQLException {
        if (t.buffered.isEmpty()) {
            return;
        }
        if (t.connection == null) {
            t.connection = connect();
            dialect.begin(t.connection, t.xid());
            t.statement = t.connection.prepareStatement(sql);
        }
        for (Object value : t.buffered) {
            filler.accept(t.statement, (IN) value);
            t.statement.addBatch();
            if (++t.batched >= batchSize) {
                t.statement.executeBatch();
                t.batched = 0;
            }
        }
        t.buffered.clear();
    }

    @Override
    public XaTransaction preCommit(XaTransaction t, long checkpointId) throws Exception {
        try {
            drain(t);
            if (t.batched > 0) {
                t.statement.executeBatch();
                t.batched = 0;
            }
            t.statement.close();
            dialect.prepare(t.connection, t.xid());
        } finally {
            closeQuietly(t);
        }
        awaitingCommit.put(t.subtask(), checkpointId);
        return new XaTransaction(t.subtask(), t.xid(), checkpointId, t.written);
    }

    @Override
    public void checkpointCompleted(int subtaskIndex, long checkpointId) {
        awaitingCommit.computeIfPresent(subtaskIndex, (k, awaiting) -> awaiting <= checkpointId ? null : awaiting);
    }

    /**
     * A prepared transaction keeps its row locks until committed, and only a later checkpoint could commit
     * this one: that checkpoint's writes to the same rows (a running count updates its key again) would
     * wait on them, on the thread that would have to commit them, until the database's lock wait timeout.
     * Failing now restarts the job from its last completed checkpoint, which rolls the transaction back.
     */
    @Override
    public void preCommittedCheckpointAborted(XaTransaction t, long checkpointId) {
        throw new IllegalStateException("Checkpoint " + checkpointId + " failed after this XA sink subtask prepared "
                + t + ". A prepared transaction locks its rows until it is committed, and only a later checkpoint "
                + "could commit it, while that checkpoint's writes to the same rows would wait on those locks; so the "
                + "subtask fails and the job restarts from its last completed checkpoint, which rolls the transaction "
                + "back and writes its records again. Why the checkpoint failed is logged just before; with an XA "
                + "sink every failed checkpoint costs a restart");
    }

    @Override
    public void commit(XaTransaction t) throws Exception {
        try (Connection c = connect()) {
            dialect.commitPrepared(c, t.xid());
        } catch (SQLException e) {
            if (dialect.unknownTransaction(e)) {
                // committed before a crash: the checkpoint that stored it completed, nothing else rolls it back
                LOG.info("{} was committed before; nothing to do", t);
                return;
            }
            throw e;
        }
    }

    @Override
    public void abort(XaTransaction t) throws Exception {
        t.buffered.clear();
        if (t.connection != null) {
            try {
                dialect.rollbackOpen(t.connection, t.xid());
            } finally {
                closeQuietly(t);
            }
        } else if (t.checkpointId() >= 0) {
            rollbackPrepared(t.xid());
        }
    }

    @Override
    public void recoverAndAbort(XaTransaction t) throws Exception {
        // an open transaction of the restored checkpoint was never prepared: its connection died with the process
    }

    @Override
    public void abortLingeringTransactions(SinkInitContext context) throws Exception {
        String prefix = prefix(context.getJobName(), context.getOperatorUid(), context.getIndexOfSubtask());
        try (Connection c = connect()) {
            for (String xid : dialect.prepared(c)) {
                if (xid.startsWith(prefix)) {
                    LOG.info("XA sink '{}' subtask {}: rolling back prepared transaction '{}', which no checkpoint refers to",
                            context.getOperatorUid(), context.getIndexOfSubtask(), xid);
                    try {
                        dialect.rollbackPrepared(c, xid);
                    } catch (SQLException e) {
                        if (!dialect.unknownTransaction(e)) {
                            throw e;
                        }
                    }
                }
            }
        }
    }

    private void rollbackPrepared(String xid) throws SQLException {
        try (Connection c = connect()) {
            dialect.rollbackPrepared(c, xid);
        } catch (SQLException e) {
            if (!dialect.unknownTransaction(e)) {
                throw e;
            }
        }
    }

    private static void closeQuietly(XaTransaction t) {
        if (t.connection != null) {
            try {
                t.connection.close();
            } catch (SQLException e) {
                // closing only
            }
            t.connection = null;
            t.statement = null;
        }
    }

    /** The subtask in an id made by {@link #prefix}: {@code of<hash>-<subtask>-…}. */
    static int subtaskOf(String xid) {
        int start = xid.indexOf('-') + 1;
        return Integer.parseInt(xid, start, xid.indexOf('-', start), 10);
    }

    @Override
    public VersionedSerializer<XaTransaction> getTransactionSerializer() {
        return new VersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(XaTransaction t) throws IOException {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                try (DataOutputStream out = new DataOutputStream(bytes)) {
                    out.writeUTF(t.xid());
                    out.writeLong(t.checkpointId());
                    out.writeLong(t.checkpointId() >= 0 ? t.records() : t.written);
                }
                return bytes.toByteArray();
            }

            @Override
            public XaTransaction deserialize(int version, byte[] serialized) throws IOException {
                if (version != 1) {
                    throw new IOException("An XA transaction handle of version " + version + " is newer than this "
                            + "Onceflow reads (1)");
                }
                try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                    String xid = in.readUTF();
                    return new XaTransaction(subtaskOf(xid), xid, in.readLong(), in.readLong());
                }
            }
        };
    }
}
