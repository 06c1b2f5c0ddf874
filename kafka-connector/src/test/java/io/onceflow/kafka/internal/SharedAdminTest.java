package io.onceflow.kafka.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.config.types.Password;
import org.junit.jupiter.api.Test;

/**
 * A shared Admin client: one client for every user, kept while someone holds it and for a while after, a
 * new one once it has been closed. Creating an Admin client opens no connection, so no broker is needed here.
 */
class SharedAdminTest {

    private static final Duration LINGER = Duration.ofMillis(300);

    private static SharedAdmin shared() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9");
        return new SharedAdmin(() -> p, ForkJoinPool.commonPool(), LINGER);
    }

    @Test
    void usersShareOneClientUntilTheLingerAfterTheLastRelease() throws Exception {
        SharedAdmin shared = shared();
        shared.acquire();
        shared.acquire();
        Admin first = shared.get();
        assertSame(first, shared.get());
        shared.release();
        Thread.sleep(LINGER.toMillis() * 3);
        assertTrue(shared.isOpen(), "closed while a user still held it");
        assertSame(first, shared.get());

        shared.release();
        assertTrue(shared.isOpen(), "closed at the last release instead of after the linger");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (shared.isOpen() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertFalse(shared.isOpen(), "still open 10 s after its last user released it");

        shared.acquire();
        try {
            assertNotSame(first, shared.get(), "a closed client was handed out again");
        } finally {
            shared.release();
        }
    }

    /** Not ready while the client is being created, so that a barrier then does not make its flush wait for it. */
    @Test
    void readyOnlyOnceTheClientIsCreated() throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9");
        CountDownLatch creationMayRun = new CountDownLatch(1);
        Executor held = r -> new Thread(() -> {
            try {
                creationMayRun.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            r.run();
        }).start();
        SharedAdmin shared = new SharedAdmin(() -> p, held, LINGER);
        assertFalse(shared.ready(), "ready before anyone acquired it");
        shared.acquire();
        try {
            assertFalse(shared.ready(), "ready while its creation has not run");
            creationMayRun.countDown();
            Admin created = shared.get();
            assertTrue(shared.ready(), "not ready once get() returned the client");
            assertSame(created, shared.get());
        } finally {
            shared.release();
        }
    }

    @Test
    void anAcquireWithinTheLingerKeepsTheClient() throws Exception {
        SharedAdmin shared = shared();
        shared.acquire();
        Admin first = shared.get();
        shared.release();
        shared.acquire();
        Thread.sleep(LINGER.toMillis() * 3);
        assertTrue(shared.isOpen(), "the linger's close went ahead though the client was acquired again");
        assertSame(first, shared.get());
        shared.release();
    }

    @Test
    void aCallHoldsTheClientOnlyWhileItRunsEvenWhenItFails() throws Exception {
        SharedAdmin shared = shared();
        Admin used = shared.use(admin -> admin);
        assertThrows(IllegalStateException.class, shared::release, "the call did not let go of the client");
        assertThrows(IllegalArgumentException.class, () -> shared.use(admin -> {
            throw new IllegalArgumentException("failed");
        }));
        assertThrows(IllegalStateException.class, shared::release, "the failed call did not let go of the client");
        assertSame(used, shared.use(admin -> admin), "a call within the linger got another client");
    }

    @Test
    void useWithoutAcquiringIsRefused() {
        SharedAdmin shared = shared();
        assertThrows(IllegalStateException.class, shared::get);
        assertThrows(IllegalStateException.class, shared::release);
        shared.acquire();
        shared.release();
        assertThrows(IllegalStateException.class, shared::release);
    }

    /**
     * {@link SharedAdmin#of}: one shared client per role and Admin settings in the process, settings compared value for
     * value (a password by its value, which prints as "[hidden]" whatever it is), another cluster, another setting or
     * another role a client of its own. The settings are copied: changing the first caller's properties afterwards does
     * not move its client.
     */
    @Test
    void callersOfOneRoleWithEqualSettingsGetOneSharedClient() {
        Properties settings = new Properties();
        settings.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9");
        settings.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30201");
        SharedAdmin first = SharedAdmin.of("sink", settings, ForkJoinPool.commonPool());

        Properties same = new Properties();
        same.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9");
        same.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30201");
        assertSame(first, SharedAdmin.of("sink", same, Runnable::run));
        assertNotSame(first, SharedAdmin.of("source", same, Runnable::run), "a source shares a sink's client");
        assertSame(SharedAdmin.of("source", same, Runnable::run), SharedAdmin.of("source", settings, Runnable::run));
        Properties password = new Properties();
        password.putAll(same);
        password.put("ssl.key.password", new Password("one"));
        SharedAdmin withPassword = SharedAdmin.of("sink", password, Runnable::run);
        assertNotSame(first, withPassword);
        password.put("ssl.key.password", new Password("two"));
        assertNotSame(withPassword, SharedAdmin.of("sink", password, Runnable::run), "another password, the same client");
        password.put("ssl.key.password", new Password("one"));
        assertSame(withPassword, SharedAdmin.of("sink", password, Runnable::run));

        settings.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30202");
        SharedAdmin other = SharedAdmin.of("sink", settings, ForkJoinPool.commonPool());
        assertNotSame(first, other);
        assertSame(first, SharedAdmin.of("sink", same, Runnable::run), "the first caller's settings changed under it");
        Properties another = new Properties();
        another.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:10");
        another.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30201");
        assertNotSame(first, SharedAdmin.of("sink", another, Runnable::run));
    }
}
