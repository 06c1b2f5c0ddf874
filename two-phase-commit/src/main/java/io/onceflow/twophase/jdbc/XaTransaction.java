package io.onceflow.twophase.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;

/**
 * One XA transaction of a {@link JdbcXaSink} subtask: its id (what the database prepares it under and what
 * a checkpoint stores), the checkpoint it was prepared for, and while it is open, its connection.
 */
public final class XaTransaction {
    private final int subtask;
    private final String xid;
    private final long checkpointId;
    private final long records;
    // open transactions only, touched by their subtask's thread
    final java.util.List<Object> buffered = new java.util.ArrayList<>();
    Connection connection;
    PreparedStatement statement;
    int batched;
    long written;

    XaTransaction(int subtask, String xid) {
        this(subtask, xid, -1, 0);
    }

    XaTransaction(int subtask, String xid, long checkpointId, long records) {
        this.subtask = subtask;
        this.xid = xid;
        this.checkpointId = checkpointId;
        this.records = records;
    }

    /** The sink subtask that wrote it. */
    int subtask() {
        return subtask;
    }

    /** The XA transaction id (the global transaction id, no branch qualifier). */
    public String xid() {
        return xid;
    }

    /** The checkpoint it was prepared for, or -1 while open. */
    public long checkpointId() {
        return checkpointId;
    }

    /** How many records it holds (known once prepared). */
    public long records() {
        return records;
    }

    @Override
    public String toString() {
        return "XA transaction '" + xid + "'" + (checkpointId >= 0 ? " of checkpoint " + checkpointId + " (" + records
                + " records)" : " (open)");
    }
}
