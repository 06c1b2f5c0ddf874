package io.onceflow.testing;

import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** The step of a {@code kill -9} test: start a run, let it make progress, kill it at a random moment. */
public final class KillDashNine {

    private KillDashNine() {
    }

    /** How far the runs got so far (rows written, offsets committed, …): grows as a run makes progress. */
    @FunctionalInterface
    public interface Progress {
        long get() throws Exception;
    }

    /**
     * Starts a run, waits until {@code progress} grows beyond what it was before the start (at most 60 s,
     * so every run makes progress of its own), lets it run a random 0 to {@code maxMoreMillis} ms more and
     * kills it with SIGKILL. Fails, with {@code log}, if the run ended by itself first.
     *
     * @param what names the run in a failure ("run 3")
     */
    public static void killAfterProgress(Callable<Process> start, Progress progress, Random random, int maxMoreMillis,
                                         String what, Supplier<String> log) throws Exception {
        long before = progress.get();
        Process p = start.call();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (progress.get() <= before && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (p.waitFor(random.nextInt(maxMoreMillis), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(what + " ended before it was killed:\n" + log.get());
        }
        p.destroyForcibly();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError(what + " did not die within 30 s of SIGKILL");
        }
        if (p.exitValue() != 137) {
            throw new AssertionError(what + " was not killed with SIGKILL: exit " + p.exitValue());
        }
    }
}
