package io.onceflow.runtime.io;

/**
 * The output of one subtask towards the subtasks of one downstream operator. Records are gathered
 * into small batches per target channel; a batch goes out when full, when the task is about to wait
 * for input ({@link #flushAll}), and with every barrier or end-of-partition.
 */
public final class RecordWriter {

    private final InputGate.Channel[] targets;
    private final Partitioner partitioner;
    private final int batchSize;
    private final Object[][] buffers;
    private final int[] counts;

    public RecordWriter(InputGate.Channel[] targets, Partitioner partitioner, int batchSize) {
        this.targets = targets;
        this.partitioner = partitioner;
        this.batchSize = batchSize;
        this.buffers = new Object[targets.length][];
        this.counts = new int[targets.length];
    }

    public void emit(Object record) throws Exception {
        int target = targets.length == 1 ? 0 : partitioner.select(record);
        add(target, record);
    }

    /** Sends an event (barrier, end of partition) to every channel, right away, behind the records before it. */
    public void broadcastEvent(Object event) throws InterruptedException {
        for (int t = 0; t < targets.length; t++) {
            add(t, event);
            flush(t);
        }
    }

    public void flushAll() throws InterruptedException {
        for (int t = 0; t < targets.length; t++) {
            flush(t);
        }
    }

    private void add(int target, Object element) throws InterruptedException {
        Object[] buf = buffers[target];
        if (buf == null) {
            buf = new Object[batchSize];
            buffers[target] = buf;
        }
        buf[counts[target]++] = element;
        if (counts[target] == batchSize) {
            flush(target);
        }
    }

    private void flush(int target) throws InterruptedException {
        int n = counts[target];
        if (n > 0) {
            Object[] buf = buffers[target];
            buffers[target] = null;
            counts[target] = 0;
            targets[target].push(buf, n);
        }
    }
}
