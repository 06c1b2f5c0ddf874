package io.onceflow.api;

import java.time.Duration;
import java.util.Objects;

/**
 * Checkpoint settings. Every setter validates its argument at once and says what to change.
 *
 * <table>
 * <caption>Options and defaults</caption>
 * <tr><th>option</th><th>default</th></tr>
 * <tr><td>interval</td><td>disabled; set with {@code StreamEnvironment.enableCheckpointing}</td></tr>
 * <tr><td>mode</td><td>{@link CheckpointingMode#EXACTLY_ONCE}</td></tr>
 * <tr><td>timeout</td><td>10 minutes</td></tr>
 * <tr><td>min pause between checkpoints</td><td>0</td></tr>
 * <tr><td>max concurrent checkpoints</td><td>1</td></tr>
 * <tr><td>tolerable consecutive failed checkpoints</td><td>0 (the first failure fails the job)</td></tr>
 * <tr><td>retained checkpoints</td><td>1</td></tr>
 * <tr><td>retention on cancel</td><td>{@link CheckpointRetention#RETAIN_ON_CANCELLATION}</td></tr>
 * <tr><td>storage</td><td>in memory (lost when the process exits)</td></tr>
 * <tr><td>resume from latest checkpoint on start</td><td>true</td></tr>
 * </table>
 */
public final class CheckpointConfig {

    static final Duration MIN_INTERVAL = Duration.ofMillis(10);

    private Duration interval;
    private CheckpointingMode mode = CheckpointingMode.EXACTLY_ONCE;
    private Duration timeout = Duration.ofMinutes(10);
    private Duration minPauseBetweenCheckpoints = Duration.ZERO;
    private int maxConcurrentCheckpoints = 1;
    private int tolerableCheckpointFailureNumber = 0;
    private int numRetainedCheckpoints = 1;
    private CheckpointRetention retention = CheckpointRetention.RETAIN_ON_CANCELLATION;
    private String checkpointStorage;
    private Object checkpointStorageInstance;
    private boolean resumeFromLatestCheckpoint = true;
    private int inlineStateThresholdBytes = 20 * 1024;
    private boolean takeOver;
    private boolean earlyCheckpointAfterRestore = true;

    public boolean isCheckpointingEnabled() {
        return interval != null;
    }

    public Duration getCheckpointInterval() {
        return interval;
    }

    public void setCheckpointInterval(Duration interval) {
        Objects.requireNonNull(interval, "interval");
        if (interval.compareTo(MIN_INTERVAL) < 0) {
            throw new IllegalArgumentException("Checkpoint interval " + interval.toMillis()
                    + " ms is too short: use at least " + MIN_INTERVAL.toMillis() + " ms");
        }
        this.interval = interval;
    }

    public CheckpointingMode getCheckpointingMode() {
        return mode;
    }

    public void setCheckpointingMode(CheckpointingMode mode) {
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    public Duration getCheckpointTimeout() {
        return timeout;
    }

    /** A checkpoint not complete after this long is aborted (and counts as a failed checkpoint). */
    public void setCheckpointTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.compareTo(MIN_INTERVAL) < 0) {
            throw new IllegalArgumentException("Checkpoint timeout " + timeout.toMillis()
                    + " ms is too short: use at least " + MIN_INTERVAL.toMillis() + " ms");
        }
        this.timeout = timeout;
    }

    public Duration getMinPauseBetweenCheckpoints() {
        return minPauseBetweenCheckpoints;
    }

    /**
     * The least time between the end of one checkpoint and the start of the next, so the job makes
     * progress even when checkpoints are slow. A non-zero pause implies one checkpoint at a time.
     */
    public void setMinPauseBetweenCheckpoints(Duration pause) {
        Objects.requireNonNull(pause, "pause");
        if (pause.isNegative()) {
            throw new IllegalArgumentException("Min pause between checkpoints must not be negative, was " + pause);
        }
        this.minPauseBetweenCheckpoints = pause;
    }

    public int getMaxConcurrentCheckpoints() {
        return maxConcurrentCheckpoints;
    }

    public void setMaxConcurrentCheckpoints(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("Max concurrent checkpoints must be at least 1, was " + max);
        }
        this.maxConcurrentCheckpoints = max;
    }

    public int getTolerableCheckpointFailureNumber() {
        return tolerableCheckpointFailureNumber;
    }

    /**
     * How many checkpoints in a row may fail (decline, time out, fail to store) before the job fails.
     * 0, the default, fails the job on the first failed checkpoint.
     */
    public void setTolerableCheckpointFailureNumber(int number) {
        if (number < 0) {
            throw new IllegalArgumentException("Tolerable checkpoint failure number must not be negative, was " + number);
        }
        this.tolerableCheckpointFailureNumber = number;
    }

    public int getNumRetainedCheckpoints() {
        return numRetainedCheckpoints;
    }

    /** How many completed checkpoints to keep; older ones are deleted. */
    public void setNumRetainedCheckpoints(int number) {
        if (number < 1) {
            throw new IllegalArgumentException("At least one checkpoint must be retained, was " + number);
        }
        this.numRetainedCheckpoints = number;
    }

    public CheckpointRetention getCheckpointRetention() {
        return retention;
    }

    public void setCheckpointRetention(CheckpointRetention retention) {
        this.retention = Objects.requireNonNull(retention, "retention");
    }

    /** The storage URI set with {@link #setCheckpointStorage(String)}, or null. */
    public String getCheckpointStorage() {
        return checkpointStorage;
    }

    /**
     * Where checkpoints go: a directory URI such as {@code file:///var/lib/app/checkpoints} or a plain
     * path. Each job writes below {@code <dir>/<job name>/chk-<n>/}. The directory's writability is
     * checked when the job starts.
     */
    public void setCheckpointStorage(String uri) {
        Objects.requireNonNull(uri, "uri");
        if (uri.isBlank()) {
            throw new IllegalArgumentException("Checkpoint storage URI must not be blank");
        }
        this.checkpointStorage = uri;
        this.checkpointStorageInstance = null;
    }

    /** Sets a storage object (for example an in-memory storage shared by tests); takes precedence over a URI. */
    public void setCheckpointStorage(io.onceflow.api.CheckpointStorageProvider storage) {
        this.checkpointStorageInstance = Objects.requireNonNull(storage, "storage");
        this.checkpointStorage = null;
    }

    public Object getCheckpointStorageInstance() {
        return checkpointStorageInstance;
    }

    public boolean isResumeFromLatestCheckpoint() {
        return resumeFromLatestCheckpoint;
    }

    /**
     * Whether a job started with the name and storage of an earlier run resumes from that run's latest
     * completed checkpoint (the default). With false it starts fresh from its sources' initial
     * positions; checkpoint ids still continue above the old ones.
     */
    public void setResumeFromLatestCheckpoint(boolean resume) {
        this.resumeFromLatestCheckpoint = resume;
    }

    public boolean isTakeOver() {
        return takeOver;
    }

    /**
     * One process owns a job's checkpoint directory at a time: a second start while the owner lives is
     * refused with a message naming it (host, pid, since when), and a start after the owner died (even
     * by {@code kill -9}) takes over by itself. With {@code true}, this start takes the job even from an
     * owner that is still alive, for when it is known to be hung (stopped, or on a machine that is cut
     * off): the old owner is fenced, writes no more checkpoints, its Kafka transactions fail, and it
     * stops when it wakes up. Default false.
     */
    public void setTakeOver(boolean takeOver) {
        this.takeOver = takeOver;
    }

    public int getInlineStateThresholdBytes() {
        return inlineStateThresholdBytes;
    }

    /** State of one subtask up to this size is stored inside the checkpoint's metadata file instead of its own file. */
    public void setInlineStateThresholdBytes(int bytes) {
        if (bytes < 0 || bytes > 1024 * 1024) {
            throw new IllegalArgumentException("Inline state threshold must be between 0 and 1 MiB, was " + bytes);
        }
        this.inlineStateThresholdBytes = bytes;
    }

    public boolean isEarlyCheckpointAfterRestore() {
        return earlyCheckpointAfterRestore;
    }

    /**
     * Whether a run of the job that restored a checkpoint (a restart after a failure, a start on a retained
     * checkpoint) takes its first checkpoint as soon as its sources have read their first records, instead of
     * a whole interval after the start. Output under EXACTLY_ONCE becomes visible only when a checkpoint
     * completes, so after a failure it resumes up to an interval sooner. The interval applies from that
     * checkpoint on; a fresh start waits for the interval. Default true.
     */
    public void setEarlyCheckpointAfterRestore(boolean early) {
        this.earlyCheckpointAfterRestore = early;
    }
}
