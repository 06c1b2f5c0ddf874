package io.onceflow.runtime.storage;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What the directory storages (local and Hadoop) do the same way: naming checkpoint directories, and
 * deleting a shared state file once no retained checkpoint refers to it.
 */
final class SharedStateFiles {

    /** What a directory storage offers the bookkeeping. */
    interface Directory {
        List<Long> allCheckpointIds() throws IOException;

        List<Long> completedCheckpointIds() throws IOException;

        CheckpointMetadata metadata(long checkpointId) throws IOException;

        void discard(long checkpointId) throws IOException;

        void deleteShared(String path) throws IOException;
    }

    private SharedStateFiles() {
    }

    /** The id of a checkpoint directory named {@code chk-<n>}, or empty for anything else. */
    static OptionalLong checkpointId(String directoryName) {
        if (!directoryName.startsWith(FileSystemCheckpointStorage.PREFIX)) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(directoryName.substring(FileSystemCheckpointStorage.PREFIX.length())));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Removes every checkpoint but {@code keep}, and the shared files only removed completed ones referred
     * to. Files of checkpoints in progress are referred to by no metadata yet, so they stay.
     */
    static void discardAllExcept(Set<Long> keep, Directory dir) throws IOException {
        Set<String> kept = new HashSet<>();
        Set<String> dropped = new HashSet<>();
        for (long id : dir.completedCheckpointIds()) {
            (keep.contains(id) ? kept : dropped).addAll(dir.metadata(id).sharedPaths());
        }
        for (long id : dir.allCheckpointIds()) {
            if (!keep.contains(id)) {
                dir.discard(id);
            }
        }
        dropped.removeAll(kept);
        for (String path : dropped) {
            dir.deleteShared(path);
        }
    }

    /** Every shared path some completed checkpoint refers to. */
    static Set<String> referenced(Directory dir) throws IOException {
        Set<String> referenced = new HashSet<>();
        for (long id : dir.completedCheckpointIds()) {
            referenced.addAll(dir.metadata(id).sharedPaths());
        }
        return referenced;
    }

    /** The directory of sinks' commit marks, beside the checkpoints: one empty file per mark, named by it. */
    static final String COMMIT_MARKS = "commit-marks";

    /** The file that holds mark {@code checkpointId} of a (file system safe) name. */
    static String markFileName(String safeName, long checkpointId) {
        return safeName + "@" + checkpointId;
    }

    /** The highest mark of {@code safeName} among the file names of the marks directory. */
    static OptionalLong highestMark(String safeName, Iterable<String> fileNames) {
        String prefix = safeName + "@";
        long highest = -1;
        boolean found = false;
        for (String f : fileNames) {
            if (f.startsWith(prefix)) {
                try {
                    highest = Math.max(highest, Long.parseLong(f.substring(prefix.length())));
                    found = true;
                } catch (NumberFormatException e) {
                    // not a mark (a temporary file of a file system, say)
                }
            }
        }
        return found ? OptionalLong.of(highest) : OptionalLong.empty();
    }
}
