package io.onceflow.twophase.file;

import io.onceflow.api.sink.Sink;
import io.onceflow.testing.OperatorHarness;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * One sink subtask run by the framework's {@link OperatorHarness} (the real {@code SinkOperator}, with
 * no threads), through a deterministic schedule, so that a crash can be placed at any step: records
 * come from a replayable input; every {@code every} records a barrier comes (at every second such
 * point two in a row, the second one over an empty transaction); a checkpoint completes one step after
 * its barrier (of two in a row only the later, subsuming the earlier), except every fourth id, which
 * is aborted; after the end of the input a final checkpoint, which completes.
 *
 * <p>What survives a crash is only what a real process keeps: the latest completed checkpoint (the
 * operator's state in the binary checkpoint format, and the input position) and the next checkpoint
 * id. A crash abandons the operator; the next incarnation is a new one restored from those bytes.
 */
final class SimulatedSubtask {

    private record Checkpoint(OperatorHarness.Snapshot state, int position) {
    }

    private final Supplier<Sink<String>> sink;
    private final List<String> input;
    private final int every;
    private final boolean closeAfterCrash;

    // survives crashes
    private Checkpoint latestCompleted;
    private long nextCheckpointId = 1;
    private int incarnations;

    /**
     * @param closeAfterCrash whether a crash is a task failure (the runtime then closes the operator,
     *                        so the writer aborts its open transaction) rather than a dead process
     */
    SimulatedSubtask(Supplier<Sink<String>> sink, List<String> input, int every, boolean closeAfterCrash) {
        this.sink = sink;
        this.input = input;
        this.every = every;
        this.closeAfterCrash = closeAfterCrash;
    }

    /** Runs until the whole input is committed, restoring after every crash; returns the number of crashes. */
    int runToCompletion() throws Exception {
        while (true) {
            incarnations++;
            OperatorHarness<String, Void> subtask = null;
            try {
                OperatorHarness<String, Void> fresh = OperatorHarness.forSink(sink);
                // a restore commits the restored transactions and restores the writer inside open()
                subtask = latestCompleted == null ? fresh.open() : fresh.restoreInto(latestCompleted.state());
                run(subtask, latestCompleted == null ? 0 : latestCompleted.position());
                return incarnations - 1;
            } catch (SimulatedCrash crash) {
                if (closeAfterCrash && subtask != null) {
                    try {
                        subtask.close();
                    } catch (SimulatedCrash | Exception ignored) {
                        // a failing close changes nothing: the restore cleans up
                    }
                }
                if (incarnations > 20) {
                    throw new AssertionError("does not recover: crashed " + incarnations + " times", crash);
                }
            }
        }
    }

    private void run(OperatorHarness<String, Void> subtask, int position) throws Exception {
        Map<Long, Checkpoint> taken = new TreeMap<>();
        boolean ended = false;
        long finalCheckpoint = -1;
        Long completesNext = null;
        while (true) {
            if (position < input.size()) {
                subtask.processElement(input.get(position++));
            } else if (!ended) {
                subtask.endInput();
                ended = true;
            }
            if (completesNext != null) {
                // the metadata is durable: this is now what a restart restores from; then the subtask hears of it
                latestCompleted = taken.get(completesNext);
                subtask.notifyCheckpointComplete(completesNext);
                if (completesNext == finalCheckpoint) {
                    subtask.close();
                    return;
                }
                completesNext = null;
            }
            int barriers = ended ? 1 : position % every != 0 ? 0 : position % (2 * every) == 0 ? 2 : 1;
            for (int b = 0; b < barriers; b++) {
                long id = nextCheckpointId++;
                taken.put(id, new Checkpoint(subtask.snapshot(id), position));
                if (ended) {
                    finalCheckpoint = id;
                }
                if (ended || id % 4 != 0) {
                    completesNext = id;
                } else {
                    subtask.notifyCheckpointAborted(id);
                }
            }
        }
    }
}
