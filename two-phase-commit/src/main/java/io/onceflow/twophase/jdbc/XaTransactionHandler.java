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
    /**
     * Subtask → its prepared transactions whose connection is still open: each is committed on the connection that
     * prepared it. Closed with the subtask's writer, which leaves the transactions prepared for whoever restores them.
     */
    private final java.util.Map<Integer, java.util.Set<XaTransaction>> preparedOnTheirConnection =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** How long a commit or rollback by id waits for a session that still holds the transaction to end. */
    static final long HELD_ELSEWHERE_TIMEOUT_MS = 30_000;

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

    /**
     * Prepares the transaction and keeps its connection open for the commit. MariaDB keeps a prepared transaction
     * attached to the session that prepared it until the server has handled that session's end, and until then
     * answers a commit from another session with "unknown XID", as if it had been committed before: a commit on
     * another connection right after closing this one could leave the transaction prepared, its records invisible
     * and its rows locked.
     */
    @Override
    public XaTransaction preCommit(XaTransaction t, long checkpointId) throws Exception {
        try {
            drain(t);
            if (t.batched > 0) {
                t.statement.executeBatch();
                t.batched = 0;
            }
            t.statement.close();
            t.statement = null;
            dialect.prepare(t.connection, t.xid());
        } catch (Throwable e) {
            closeQuietly(t);
            throw e;
        }
        awaitingCommit.put(t.subtask(), checkpointId);
        XaTransaction prepared = new XaTransaction(t.subtask(), t.xid(), checkpointId, t.written);
        prepared.connection = t.connection;
        t.connection = null;
        preparedOnTheirConnection.computeIfAbsent(t.subtask(), k -> java.util.concurrent.ConcurrentHashMap.newKeySet())
                .add(prepared);
        return prepared;
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
        if (t.connection != null) {
            try {
                dialect.commitPrepared(t.connection, t.xid());
                return;
            } catch (SQLException e) {
                LOG.warn("{} could not be committed on the connection that prepared it ({}); committing it by its id",
                        t, e.toString());
            } finally {
                releaseConnection(t);
            }
        }
        if (!endById(t.xid(), true)) {
            // committed before a crash: the checkpoint that stored it completed, nothing else rolls it back
            LOG.info("{} was committed before; nothing to do", t);
        }
    }

    /**
     * Commits or rolls back a prepared transaction from a connection of its own. "Unknown XID" means it was ended
     * before, unless the database still lists it as prepared: then a session that has not ended yet holds it (one
     * this process closed a moment ago, whose end the server has not handled yet), and this tries again until that
     * session ends, for at most {@link #HELD_ELSEWHERE_TIMEOUT_MS}.
     *
     * @return false if the transaction was no longer there (ended before)
     */
    private boolean endById(String xid, boolean commit) throws SQLException, InterruptedException {
        try (Connection c = connect()) {
            return endById(c, xid, commit);
        }
    }

    /** As above, on the connection {@code c}. */
    private boolean endById(Connection c, String xid, boolean commit) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + HELD_ELSEWHERE_TIMEOUT_MS * 1_000_000;
        long backoff = 5;
        while (true) {
            try {
                if (commit) {
                    dialect.commitPrepared(c, xid);
                } else {
                    dialect.rollbackPrepared(c, xid);
                }
                return true;
            } catch (SQLException e) {
                if (!dialect.unknownTransaction(e)) {
                    throw e;
                }
            }
            if (!dialect.prepared(c).contains(xid)) {
                return false;
            }
            if (System.nanoTime() > deadline) {
                throw new SQLException("XA transaction '" + xid + "' is prepared, but another session has held it "
                        + "for " + HELD_ELSEWHERE_TIMEOUT_MS / 1000 + " s, so it cannot be "
                        + (commit ? "committed" : "rolled back")
                        + " (a connection of an earlier attempt of this job that has not ended?)");
            }
            Thread.sleep(backoff);
            backoff = Math.min(backoff * 2, 200);
        }
    }

    /** Closes the connection of a prepared transaction once it was committed or rolled back on it. */
    private void releaseConnection(XaTransaction t) {
        java.util.Set<XaTransaction> held = preparedOnTheirConnection.get(t.subtask());
        if (held != null) {
            held.remove(t);
        }
        closeQuietly(t);
    }

    /**
     * Closes the connections of the subtask's prepared transactions that were not committed: the transactions stay
     * prepared, for the checkpoint that restores them.
     */
    @Override
    public void close(int subtaskIndex) {
        java.util.Set<XaTransaction> held = preparedOnTheirConnection.remove(subtaskIndex);
        if (held != null) {
            for (XaTransaction t : held) {
                closeQuietly(t);
            }
        }
    }

    @Override
    public void abort(XaTransaction t) throws Exception {
        t.buffered.clear();
        if (t.connection != null) {
            try {
                if (t.checkpointId() >= 0) {
                    dialect.rollbackPrepared(t.connection, t.xid());
                } else {
                    dialect.rollbackOpen(t.connection, t.xid());
                }
            } finally {
                releaseConnection(t);
            }
        } else if (t.checkpointId() >= 0) {
            endById(t.xid(), false);
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
                    endById(c, xid, false);
                }
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
