package io.onceflow.twophase.file;

import io.onceflow.api.functions.MapFunction;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Failures at chosen moments of a running job, one after another: each planned failure fires at the
 * first matching moment once the job has moved past the previous one by a few checkpoint ids
 * (checkpoint ids only grow, so every failure fires exactly once if the job runs long enough). Which
 * moments, in which order and how far apart comes from a seed.
 *
 * <p>Besides the runtime's {@link FaultPoint}s there is {@link #WHILE_WRITING}: a record on its way
 * into the sink, in the middle of a transaction, via {@link #failingIdentity}.
 */
final class PlannedFaults implements FaultInjector {

    /** A failure while records flow into the sink (not a {@link FaultPoint}). */
    static final String WHILE_WRITING = "WHILE_WRITING";

    /** Where to fail: a fault point (or {@link #WHILE_WRITING}) and optionally the operator uid. */
    record Fault(String point, String operatorUid) {
        @Override
        public String toString() {
            return point + (operatorUid == null ? "" : " of " + operatorUid);
        }
    }

    private static final Map<String, PlannedFaults> BY_JOB = new ConcurrentHashMap<>();

    private final List<Fault> plan;
    private final Random random;
    private final List<String> fired = new ArrayList<>();
    private int next;
    private long armedFrom;
    private long lastCompleted = -1;

    PlannedFaults(List<Fault> plan, long seed) {
        this.plan = List.copyOf(plan);
        this.random = new Random(seed);
        this.armedFrom = 2 + random.nextInt(3);
    }

    /** Every fault point that matters to a two-phase-commit sink, once each, in an order chosen by the seed. */
    static PlannedFaults shuffled(long seed) {
        List<Fault> plan = new ArrayList<>(List.of(
                new Fault(FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY.name(), null),
                new Fault(FaultPoint.BEFORE_COMMIT.name(), "sink"),
                new Fault(FaultPoint.AFTER_COMMIT.name(), "sink"),
                new Fault(FaultPoint.DURING_NOTIFY.name(), "sink"),
                new Fault(FaultPoint.BEFORE_SNAPSHOT.name(), "sink"),
                new Fault(FaultPoint.AFTER_SNAPSHOT.name(), "sink"),
                new Fault(WHILE_WRITING, null)));
        Collections.shuffle(plan, new Random(seed));
        return new PlannedFaults(plan, seed);
    }

    /** Makes the plan findable by functions of the job (they are copies, so they look it up by job name). */
    PlannedFaults register(String jobName) {
        BY_JOB.put(jobName, this);
        return this;
    }

    synchronized List<String> fired() {
        return List.copyOf(fired);
    }

    List<Fault> plan() {
        return plan;
    }

    @Override
    public synchronized void at(FaultPoint point, String operatorUid, int subtask, long checkpointId) {
        if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
            lastCompleted = Math.max(lastCompleted, checkpointId);
        }
        if (next < plan.size() && plan.get(next).point().equals(point.name()) && checkpointId >= armedFrom
                && (plan.get(next).operatorUid() == null || plan.get(next).operatorUid().equals(operatorUid))) {
            fire(checkpointId, point + " of " + operatorUid + "/" + subtask + " at checkpoint " + checkpointId);
        }
    }

    private synchronized void whileWriting(String record) {
        if (next < plan.size() && plan.get(next).point().equals(WHILE_WRITING) && lastCompleted >= armedFrom) {
            fire(lastCompleted, "while writing " + record + " after checkpoint " + lastCompleted);
        }
    }

    private void fire(long checkpointId, String where) {
        next++;
        armedFrom = checkpointId + 1 + random.nextInt(2);
        fired.add(where);
        throw new InjectedFailure("injected failure " + fired.size() + ": " + where);
    }

    /** Passes records through, failing when the plan says {@link #WHILE_WRITING}. Chained right before the sink. */
    static MapFunction<String, String> failingIdentity(String jobName) {
        return new FailingIdentity(jobName);
    }

    private record FailingIdentity(String jobName) implements MapFunction<String, String> {
        @Override
        public String map(String value) {
            BY_JOB.get(jobName).whileWriting(value);
            return value;
        }
    }
}
