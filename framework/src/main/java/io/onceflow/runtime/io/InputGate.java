package io.onceflow.runtime.io;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The inputs of one subtask: one bounded channel per upstream subtask, plus the task's mailbox
 * (checkpoint triggers, notifications) so that one wait covers both.
 *
 * <p>Threads: producers call {@link Channel#push} from their own threads; everything else is called
 * by the owning task's thread only, except {@link #addMail} and {@link #cancel}, which any thread may
 * call. All queues are bounded: a full channel blocks its producer (backpressure).
 *
 * <p>A channel can be {@linkplain #block blocked}: its elements stay queued (and its producer is
 * eventually held back) until {@link #unblockAll}. This is how exactly-once barrier alignment holds
 * back an input that already delivered a barrier.
 */
public final class InputGate {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition available = lock.newCondition();
    private final Channel[] channels;
    private final ArrayDeque<Runnable> mail = new ArrayDeque<>();
    private volatile boolean hasMail;
    private volatile boolean cancelled;
    private int current;
    private int lastChannel = -1;
    private int blockedCount;

    public InputGate(int numChannels, int capacityInBatches) {
        channels = new Channel[numChannels];
        for (int i = 0; i < numChannels; i++) {
            channels[i] = new Channel(capacityInBatches);
        }
    }

    public int numberOfChannels() {
        return channels.length;
    }

    public Channel channel(int index) {
        return channels[index];
    }

    /** The channel the element last returned by {@link #next} came from. */
    public int lastChannel() {
        return lastChannel;
    }

    public boolean isBlocked(int channel) {
        return channels[channel].blocked;
    }

    public int blockedChannels() {
        return blockedCount;
    }

    public void block(int channel) {
        if (!channels[channel].blocked) {
            channels[channel].blocked = true;
            blockedCount++;
        }
    }

    public void unblockAll() {
        for (Channel c : channels) {
            c.blocked = false;
        }
        blockedCount = 0;
    }

    /**
     * The next element from an unblocked channel, or null when mail is waiting (take it with
     * {@link #pollMail}). Blocks while there is neither; before blocking runs {@code beforeBlocking}
     * (the task flushes its outputs there, so nothing sits in a half-full batch while it waits).
     *
     * @throws CancelledException when the gate is cancelled
     */
    public Object next(Runnable beforeBlocking) throws InterruptedException {
        final int n = channels.length;
        while (true) {
            if (hasMail) {
                return null;
            }
            for (int k = 0; k < n; k++) {
                int i = current + k;
                if (i >= n) {
                    i -= n;
                }
                Channel c = channels[i];
                if (!c.blocked && c.pos < c.len) {
                    current = i;
                    lastChannel = i;
                    Object e = c.batch[c.pos];
                    c.batch[c.pos++] = null;
                    return e;
                }
            }
            if (!fetch(false)) {
                beforeBlocking.run();
                fetch(true);
            }
        }
    }

    /** Moves queued batches into the consumer side; with {@code wait}, waits once when there is nothing. */
    private boolean fetch(boolean wait) throws InterruptedException {
        lock.lock();
        try {
            boolean got = takeBatches();
            if (!got && wait && !hasMail && !cancelled) {
                available.await();
                got = takeBatches();
            }
            if (cancelled) {
                throw new CancelledException();
            }
            return got;
        } finally {
            lock.unlock();
        }
    }

    private boolean takeBatches() {
        boolean got = false;
        for (Channel c : channels) {
            if (!c.blocked && c.pos >= c.len && !c.queue.isEmpty()) {
                Object[] b = c.queue.poll();
                c.batch = b;
                c.pos = 0;
                c.len = c.lengths.poll();
                c.notFull.signal();
                got = true;
            }
        }
        return got;
    }

    public boolean hasMail() {
        return hasMail;
    }

    public Runnable pollMail() {
        lock.lock();
        try {
            Runnable r = mail.poll();
            hasMail = !mail.isEmpty();
            return r;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until mail arrives, the gate is cancelled, or the time is up (for tasks without channels). */
    public void awaitMail(long timeout, TimeUnit unit) throws InterruptedException {
        lock.lock();
        try {
            if (!hasMail && !cancelled) {
                available.await(timeout, unit);
            }
            if (cancelled) {
                throw new CancelledException();
            }
        } finally {
            lock.unlock();
        }
    }

    public void addMail(Runnable action) {
        lock.lock();
        try {
            mail.add(action);
            hasMail = true;
            available.signal();
        } finally {
            lock.unlock();
        }
    }

    public boolean isCancelled() {
        return cancelled;
    }

    /** Wakes the consumer and every blocked producer; both get a {@link CancelledException}. */
    public void cancel() {
        lock.lock();
        try {
            cancelled = true;
            available.signalAll();
            for (Channel c : channels) {
                c.notFull.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** One bounded queue of batches from one upstream subtask. */
    public final class Channel {
        private final int capacity;
        private final ArrayDeque<Object[]> queue;
        private final ArrayDeque<Integer> lengths;
        private final Condition notFull = lock.newCondition();
        // consumer side, touched by the owning task's thread only
        private Object[] batch;
        private int pos;
        private int len;
        private boolean blocked;

        Channel(int capacity) {
            this.capacity = capacity;
            this.queue = new ArrayDeque<>(capacity);
            this.lengths = new ArrayDeque<>(capacity);
        }

        /**
         * Hands a batch to the consumer; the array belongs to the consumer afterwards. Blocks while the
         * channel is full.
         *
         * @throws CancelledException when the consuming gate is cancelled
         */
        public void push(Object[] elements, int length) throws InterruptedException {
            lock.lock();
            try {
                while (queue.size() >= capacity && !cancelled) {
                    notFull.await();
                }
                if (cancelled) {
                    throw new CancelledException();
                }
                queue.add(elements);
                lengths.add(length);
                available.signal();
            } finally {
                lock.unlock();
            }
        }

        /** Whether the channel's queue is full right now (for back-pressure metrics). */
        public boolean isFull() {
            lock.lock();
            try {
                return queue.size() >= capacity;
            } finally {
                lock.unlock();
            }
        }
    }
}
