package io.onceflow.runtime.graph;

import io.onceflow.runtime.JobConfigurationException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The physical shape of a job: transformations grouped into chains (operators joined by forward
 * edges of equal parallelism run in one thread), each with its parallelism and a unique uid.
 * Validation happens here, before anything runs.
 */
public final class ExecutionPlan {

    /** A chain of operators run by one task; {@code input} is how its head reads its upstream chain. */
    public record Chain(int index, List<Transformation> operators, int parallelism, Chain upstream,
                        Partitioning inputPartitioning) {
        public Transformation head() {
            return operators.get(0);
        }

        public Transformation tail() {
            return operators.get(operators.size() - 1);
        }

        public String name() {
            StringBuilder sb = new StringBuilder();
            for (Transformation t : operators) {
                if (sb.length() > 0) {
                    sb.append(" -> ");
                }
                sb.append(t.getName());
            }
            return sb.toString();
        }
    }

    private final List<Chain> chains;
    private final Map<Transformation, String> uids;
    private final Map<Transformation, Integer> parallelism;

    private ExecutionPlan(List<Chain> chains, Map<Transformation, String> uids, Map<Transformation, Integer> parallelism) {
        this.chains = chains;
        this.uids = uids;
        this.parallelism = parallelism;
    }

    public List<Chain> chains() {
        return chains;
    }

    public String uid(Transformation t) {
        return uids.get(t);
    }

    public int parallelism(Transformation t) {
        return parallelism.get(t);
    }

    public static ExecutionPlan build(JobSpec spec) {
        List<Transformation> all = spec.transformations();
        if (all.stream().noneMatch(t -> t.getKind() == Transformation.Kind.SOURCE)) {
            throw new JobConfigurationException("Job '" + spec.jobName() + "' has no source: add one with fromSource(...)");
        }
        if (all.stream().noneMatch(t -> t.getKind() == Transformation.Kind.SINK)) {
            throw new JobConfigurationException("Job '" + spec.jobName() + "' has no sink: its results would go nowhere; "
                    + "add one with sinkTo(...)");
        }
        Map<Transformation, Integer> parallelism = new HashMap<>();
        Map<Transformation, String> uids = new LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        for (Transformation t : all) {
            int p = t.getParallelism() > 0 ? t.getParallelism() : spec.defaultParallelism();
            if (p > spec.maxParallelism()) {
                throw new JobConfigurationException("Operator " + t + " has parallelism " + p
                        + ", above the max parallelism " + spec.maxParallelism() + ": lower it or raise the max parallelism");
            }
            parallelism.put(t, p);
            if (t.getUid() != null && !seen.add(t.getUid())) {
                throw new JobConfigurationException("Duplicate uid '" + t.getUid() + "': operator " + t
                        + " uses a uid another operator already has; every uid must be unique in the job");
            }
        }
        for (Transformation t : all) {
            String uid = t.getUid();
            if (uid == null) {
                // stable for the same program: built from the name and the position in the program
                uid = "auto-" + t.getName().replaceAll("\\s+", "-") + "-" + t.getId();
                if (!seen.add(uid)) {
                    throw new JobConfigurationException("Generated uid '" + uid + "' of operator " + t
                            + " collides with a uid set by hand: set uid(...) on " + t);
                }
            }
            uids.put(t, uid);
        }
        for (Transformation t : all) {
            if (t.getFailureTag() != null && !t.consumedSideOutputs().contains(t.getFailureTag().getId())) {
                throw new JobConfigurationException("Operator " + t + " sends the records its function throws on to the "
                        + "side output '" + t.getFailureTag().getId() + "' (catchFailures), but nothing reads it, so they "
                        + "would be lost: add getSideOutput(tag) after it and write them somewhere, or remove catchFailures");
            }
        }
        List<Chain> chains = new ArrayList<>();
        Map<Transformation, Chain> chainOf = new HashMap<>();
        for (Transformation t : all) {
            Transformation in = t.getInput();
            Partitioning part = null;
            if (in != null) {
                part = resolvePartitioning(t, in, parallelism);
                // a side output always starts a chain of its own: its records leave the task by their own writer
                long mainConsumers = in.getConsumers().stream().filter(c -> c.getKind() != Transformation.Kind.SIDE_OUTPUT)
                        .count();
                if (part == Partitioning.FORWARD && mainConsumers == 1 && !t.isKeyed()
                        && t.getKind() != Transformation.Kind.SIDE_OUTPUT) {
                    Chain c = chainOf.get(in);
                    c.operators().add(t);
                    chainOf.put(t, c);
                    continue;
                }
            }
            Chain c = new Chain(chains.size(), new ArrayList<>(List.of(t)), parallelism.get(t),
                    in == null ? null : chainOf.get(in), part);
            chains.add(c);
            chainOf.put(t, c);
        }
        return new ExecutionPlan(chains, uids, parallelism);
    }

    private static Partitioning resolvePartitioning(Transformation t, Transformation in, Map<Transformation, Integer> p) {
        if (t.isKeyed()) {
            return Partitioning.HASH;
        }
        Partitioning asked = t.getPartitioning();
        if (asked == null) {
            return p.get(t).equals(p.get(in)) ? Partitioning.FORWARD : Partitioning.REBALANCE;
        }
        if (asked == Partitioning.FORWARD && !p.get(t).equals(p.get(in))) {
            throw new JobConfigurationException("Operator " + t + " reads " + in + " with a forward edge, but their "
                    + "parallelism differs (" + p.get(in) + " vs " + p.get(t) + "): make them equal or rebalance()");
        }
        return asked;
    }
}
