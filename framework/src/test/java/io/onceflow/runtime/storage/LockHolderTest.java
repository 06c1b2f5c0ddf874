package io.onceflow.runtime.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What a lock file's holder lines tell a new start: whether the holder is known to be gone, so that an
 * HDFS lock need not wait out the dead holder's lease. Only a holder of this machine can be known gone.
 */
class LockHolderTest {

    /** This process's pid namespace, as its own holder lines name it. */
    private static final String NAMESPACE = field(FileOwnerLock.holderLines(), "pidns");

    private static String field(String lines, String name) {
        return lines.lines().filter(l -> l.startsWith(name + "=")).map(l -> l.substring(name.length() + 1))
                .findFirst().orElseThrow();
    }

    private static String holder(String host, long pid, String started) {
        return holder(host, pid, NAMESPACE, started);
    }

    private static String holder(String host, long pid, String namespace, String started) {
        return "host=" + host + "\npid=" + pid + "\n" + (namespace == null ? "" : "pidns=" + namespace + "\n")
                + (started == null ? "" : "started=" + started + "\n") + "since=2026-01-01T00:00:00Z\n";
    }

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-version")
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return p.pid();
    }

    @Test
    void theseLinesNameThisLiveProcess() {
        String mine = FileOwnerLock.holderLines();
        assertTrue(mine.contains("pid=" + ProcessHandle.current().pid() + "\n"), mine);
        assertFalse(FileOwnerLock.goneFromThisMachine(mine), mine);
        assertTrue(FileOwnerLock.describe(mine).contains("(this very process"), FileOwnerLock.describe(mine));
    }

    @Test
    void aHolderOfThisMachineWhosePidIsFreeIsGone() throws Exception {
        String dead = holder(FileOwnerLock.host(), deadPid(), Instant.now().toString());
        assertTrue(FileOwnerLock.goneFromThisMachine(dead), dead);
        assertTrue(FileOwnerLock.describe(dead).contains("(no longer running on this machine)"), FileOwnerLock.describe(dead));
        // a lock that names no start: a free pid still tells
        assertTrue(FileOwnerLock.goneFromThisMachine(holder(FileOwnerLock.host(), deadPid(), null)));
    }

    @Test
    void aHolderOfAnotherPidNamespaceOrOfNoneNamedIsNeverKnownGone() throws Exception {
        long free = deadPid();
        // a container with the machine's host name (host networking) has pids of its own
        assertFalse(FileOwnerLock.goneFromThisMachine(holder(FileOwnerLock.host(), free, "pid:[1]",
                Instant.now().toString())));
        // a lock written by an earlier version, or where there is no namespace to read
        assertFalse(FileOwnerLock.goneFromThisMachine(holder(FileOwnerLock.host(), free, null, Instant.now().toString())));
        assertFalse(FileOwnerLock.goneFromThisMachine(holder(FileOwnerLock.host(), free, "", Instant.now().toString())));
    }

    @Test
    void aPidNowUsedByAProcessThatStartedAtAnotherMomentIsGone() {
        // this process's own pid, written by a process that started earlier: a restarted container's JVM
        long me = ProcessHandle.current().pid();
        String earlier = holder(FileOwnerLock.host(), me, Instant.parse("2020-01-01T00:00:00Z").toString());
        assertTrue(FileOwnerLock.goneFromThisMachine(earlier), earlier);
        assertFalse(FileOwnerLock.describe(earlier).contains("this very process"), FileOwnerLock.describe(earlier));
    }

    @Test
    void aLiveHolderIsNotGone() throws Exception {
        Process sleeper = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Sleeper.class.getName()).start();
        try {
            String started = sleeper.toHandle().info().startInstant().map(Instant::toString).orElseThrow();
            String alive = holder(FileOwnerLock.host(), sleeper.pid(), started);
            assertFalse(FileOwnerLock.goneFromThisMachine(alive), alive);
            assertTrue(FileOwnerLock.describe(alive).contains("(alive on this machine)"), FileOwnerLock.describe(alive));
            // nothing recorded about its start: a live pid is taken to be the holder
            assertFalse(FileOwnerLock.goneFromThisMachine(holder(FileOwnerLock.host(), sleeper.pid(), null)));
        } finally {
            sleeper.destroyForcibly();
            sleeper.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void aHolderOfAnotherMachineIsNeverKnownGone() throws Exception {
        long free = deadPid();
        assertFalse(FileOwnerLock.goneFromThisMachine(holder("another-machine", free, Instant.now().toString())));
        // nor one whose host name many machines share, even if it is this machine's name
        assertFalse(FileOwnerLock.goneFromThisMachine(holder("localhost", free, Instant.now().toString())));
        // another machine's holder with this process's pid is not this process
        String other = holder("another-machine", ProcessHandle.current().pid(), Instant.now().toString());
        assertEquals("pid " + ProcessHandle.current().pid() + " on host another-machine since 2026-01-01T00:00:00Z",
                FileOwnerLock.describe(other));
        assertFalse(FileOwnerLock.goneFromThisMachine("garbage"));
    }

    /** A process that lives until it is killed. */
    public static final class Sleeper {
        public static void main(String[] args) throws InterruptedException {
            Thread.sleep(TimeUnit.MINUTES.toMillis(5));
        }
    }
}
