package io.onceflow.kafka.source;

/**
 * How many dead letters a source subtask accepts before it decides the data or the deserializer is
 * broken and stops the job (without a restart, which would read the same records again): more than
 * {@code maxPerCheckpoint} in one checkpoint interval, or more than {@code maxRatio} of all the records
 * it read since it started, once that is at least {@link #MIN_RECORDS_FOR_RATIO} records (a short
 * interval, or one partition, may hold a cluster of bad records; the ratio looks at the whole stream).
 */
public record DeadLetterLimits(int maxPerCheckpoint, double maxRatio) {

    public static final int MIN_RECORDS_FOR_RATIO = 1_000;

    /** 1,000 per checkpoint interval and subtask, and 10 % of its records. */
    public static final DeadLetterLimits DEFAULT = new DeadLetterLimits(1_000, 0.10);

    public DeadLetterLimits {
        if (maxPerCheckpoint < 0) {
            throw new IllegalArgumentException("maxPerCheckpoint must not be negative, was " + maxPerCheckpoint);
        }
        if (!(maxRatio >= 0 && maxRatio <= 1)) {
            throw new IllegalArgumentException("maxRatio must be between 0 and 1, was " + maxRatio);
        }
    }
}
