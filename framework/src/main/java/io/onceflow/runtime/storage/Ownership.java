package io.onceflow.runtime.storage;

/**
 * This process's claim to be the one owner of a job's checkpoints, from
 * {@link JobCheckpointStore#acquireOwnership}. Held until {@link #release()}; a claim the operating
 * system holds (a file lock) ends by itself when the process dies, so a start after {@code kill -9}
 * takes over without manual steps.
 */
public interface Ownership {

    /** For storages where nothing can be shared between processes (memory). */
    Ownership NONE = new Ownership() {
        @Override
        public void verify() {
        }

        @Override
        public void release() {
        }

        @Override
        public String toString() {
            return "no ownership needed";
        }
    };

    /**
     * Checks this process still owns the job; called before every checkpoint is begun and made
     * complete, and before a restart.
     *
     * @throws OwnershipLostException when another instance took the job over (this one is a zombie)
     */
    void verify();

    /** Gives the job up. Idempotent. */
    void release();
}
