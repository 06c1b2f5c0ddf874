package io.onceflow.api;

import java.util.Map;

/**
 * Implemented by a source or sink that can check its configuration against the job's before anything
 * runs (for example a transaction timeout against the checkpoint timeout and the broker's limit).
 * {@link #validate} is called once when the job starts; throwing stops the start with the exception's
 * message, which should say what to change. The job's checks run on a thread of their own, one after another,
 * while the job reads the checkpoint it resumes from; no task starts before they all passed.
 */
public interface ValidatesConfiguration {

    void validate(Context context) throws Exception;

    /** What a validator can see of the job. */
    interface Context {
        String jobName();

        /** The uid of the operator the source or sink runs in. */
        String operatorUid();

        int parallelism();

        CheckpointConfig checkpointConfig();

        /**
         * A map shared by all validators of the job, to find conflicts between operators (two sinks
         * claiming the same external name, for instance).
         */
        Map<String, Object> shared();

        /** The ids of the side outputs of this operator that the job reads (see {@code DataStream.getSideOutput}). */
        default java.util.Set<String> consumedSideOutputs() {
            return java.util.Set.of();
        }
    }
}
