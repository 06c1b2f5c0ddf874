package io.onceflow.kafka.sink.internal;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.slf4j.LoggerFactory;

/**
 * The only place that touches kafka-clients internals: everything Onceflow needs to resume a transaction
 * of another (crashed) producer instance, since the public producer API cannot do it yet (KIP-939's
 * {@code prepareTransaction}/{@code completeTransaction} are not public in kafka-clients 4.3 or 4.4).
 *
 * <h2>What it touches (kafka-clients 4.3.x)</h2>
 * <ul>
 *   <li>{@code KafkaProducer.transactionManager} (private field): the producer's {@code TransactionManager};
 *       its class is taken from the field's type, not named;</li>
 *   <li>{@code TransactionManager.producerIdAndEpoch} (private volatile field), read at pre-commit and
 *       replaced on resume. Its type ({@code org.apache.kafka.common.utils.ProducerIdAndEpoch} in 4.3, moved
 *       in 4.4) is taken from the field; it must have a {@code (long, short)} constructor and public
 *       {@code producerId}/{@code epoch} fields;</li>
 *   <li>{@code TransactionManager.currentState} (private volatile field), only to read the state and to
 *       learn the private {@code State} enum type, whose constants {@code UNINITIALIZED},
 *       {@code INITIALIZING} and {@code READY} are used;</li>
 *   <li>{@code TransactionManager.transitionTo(State)} (private method): UNINITIALIZED &rarr; INITIALIZING
 *       &rarr; READY, the path {@code initTransactions()} takes, without its InitProducerId request (which
 *       would abort the transaction to resume); the public {@code beginTransaction()} then moves it to
 *       IN_TRANSACTION;</li>
 *   <li>{@code TransactionManager.transactionStarted} (private volatile boolean): set so that
 *       {@code commitTransaction()} really sends EndTxn (the producer skips EndTxn for a transaction in
 *       which it sent nothing);</li>
 *   <li>{@code TransactionManager.isTransactionV2Enabled} (private volatile boolean): read at pre-commit
 *       and restored on resume, so that EndTxn goes out in the transaction's own protocol version (v5+ for
 *       transactions v2, whose coordinator expects the epoch of the open transaction and recognises a
 *       retried commit by the bumped epoch; see FLINK-40689);</li>
 *   <li>{@code TransactionManager.hasPartitionsToAdd()} (package-private method): only with transactions
 *       v1, to wait at flush until AddPartitionsToTxn for every partition written has completed.</li>
 * </ul>
 *
 * <h2>Version check</h2>
 * Every member above is looked up once, when this class is initialised. When one is missing or has another
 * shape, or the kafka-clients version is not one this adapter was tested with, every use throws an
 * {@link UnsupportedKafkaClientsException} that names the version found, the versions supported
 * ({@value #SUPPORTED_VERSIONS}) and what to do. {@code -D}{@value #ALLOW_UNTESTED_PROPERTY}{@code =true}
 * accepts an untested version whose members all resolve. kafka-clients 4.4.0 (where {@code ProducerIdAndEpoch}
 * and {@code AppInfoParser} moved to {@code org.apache.kafka.common.utils.internals}) resolves every member and
 * passed the resume, re-commit and lingering-abort cycle against a 4.3.1 broker with that flag
 * ({@code TransactionalProducerTest#worksWithAnotherKafkaClientsVersion}, run with
 * {@code -Donceflow.kafka.compat.clientsJar=...}); it is not in the supported list until that test runs in the
 * build.
 */
final class ProducerInternals {
    /** The kafka-clients versions this adapter was tested with. */
    static final String SUPPORTED_VERSIONS = "4.3.x";
    static final String ALLOW_UNTESTED_PROPERTY = "onceflow.kafka.clients.allowUntestedVersion";

    private static final String VERSION_RESOURCE = "kafka/kafka-version.properties";
    static final String VERSION = clientsVersion();
    private static final Members MEMBERS;
    private static final String PROBLEM;
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    static {
        Members members = null;
        String problem = null;
        try {
            members = new Members();
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            problem = "its producer internals differ from those of " + SUPPORTED_VERSIONS + " (" + e + ")";
        }
        if (problem == null && !isTestedVersion(VERSION) && !Boolean.getBoolean(ALLOW_UNTESTED_PROPERTY)) {
            problem = "this version was not tested with the adapter (its internals do resolve; -D"
                    + ALLOW_UNTESTED_PROPERTY + "=true accepts it at your own risk)";
        }
        MEMBERS = problem == null ? members : null;
        PROBLEM = problem;
    }

    private ProducerInternals() {
    }

    /** The kafka-clients version on the classpath, as it reports itself. */
    static String kafkaClientsVersion() {
        return VERSION;
    }

    static boolean isTestedVersion(String version) {
        return version != null && version.startsWith("4.3.");
    }

    /** Whether the running version is not a tested one but accepted through the system property. */
    static boolean isUntestedVersionAccepted() {
        return PROBLEM == null && !isTestedVersion(VERSION);
    }

    /** Throws unless the adapter can work with the kafka-clients on the classpath. */
    static void verify() {
        if (PROBLEM != null) {
            throw new UnsupportedKafkaClientsException(VERSION, SUPPORTED_VERSIONS, PROBLEM);
        }
        if (isUntestedVersionAccepted() && WARNED.compareAndSet(false, true)) {
            LoggerFactory.getLogger(ProducerInternals.class).warn("kafka-clients {} was not tested with Onceflow's"
                    + " transaction resume adapter (supported: {}); accepted because -D{}=true", VERSION,
                    SUPPORTED_VERSIONS, ALLOW_UNTESTED_PROPERTY);
        }
    }

    /** Producer id, epoch and protocol version of a transactional producer, read without blocking. */
    static ProducerState state(KafkaProducer<?, ?> producer) {
        Members m = members();
        Object tm = m.transactionManager(producer);
        synchronized (tm) {
            Object pie = m.get(m.producerIdAndEpoch, tm);
            try {
                return new ProducerState(m.producerIdField.getLong(pie), m.epochField.getShort(pie),
                        m.transactionV2.getBoolean(tm), ((Enum<?>) m.get(m.currentState, tm)).name());
            } catch (IllegalAccessException e) {
                throw m.broken(e);
            }
        }
    }

    /** Transactions v1 only: whether AddPartitionsToTxn requests are still to be sent or answered. */
    static boolean hasPartitionsToAdd(KafkaProducer<?, ?> producer) {
        Members m = members();
        return (Boolean) m.invoke(m.hasPartitionsToAdd, m.transactionManager(producer));
    }

    /**
     * Puts a freshly created transactional producer, on which {@code initTransactions()} was NOT called, into
     * the state {@code initTransactions()} would have left it in, but with the given producer id and epoch
     * instead of new ones, and with the given transaction protocol version. The caller then calls
     * {@link #markTransactionStarted} after {@code beginTransaction()}.
     */
    static void resume(KafkaProducer<?, ?> producer, long producerId, short epoch, boolean transactionV2) {
        Members m = members();
        Object tm = m.transactionManager(producer);
        synchronized (tm) {
            Object state = m.get(m.currentState, tm);
            if (state != m.uninitialized) {
                throw new IllegalStateException("cannot resume a transaction on a producer whose transaction manager"
                        + " is in state " + state + " (expected " + m.uninitialized + ": a new producer on which"
                        + " initTransactions() was not called)");
            }
            m.invoke(m.transitionTo, tm, m.initializing);
            m.set(m.producerIdAndEpoch, tm, m.newProducerIdAndEpoch(producerId, epoch));
            m.set(m.transactionV2, tm, transactionV2);
            m.invoke(m.transitionTo, tm, m.ready);
        }
    }

    /** Marks the open transaction as started, so that commit or abort sends EndTxn even though nothing was sent. */
    static void markTransactionStarted(KafkaProducer<?, ?> producer) {
        Members m = members();
        Object tm = m.transactionManager(producer);
        synchronized (tm) {
            m.set(m.transactionStarted, tm, true);
        }
    }

    private static Members members() {
        verify();
        return MEMBERS;
    }

    /**
     * The version in {@code kafka/kafka-version.properties} of the jar (or directory) holding {@link KafkaProducer};
     * {@code AppInfoParser}, which reads the same file, moved package in 4.4, so it is only the fallback.
     */
    private static String clientsVersion() {
        try {
            CodeSource cs = KafkaProducer.class.getProtectionDomain().getCodeSource();
            URL location = cs == null ? null : cs.getLocation();
            if (location != null) {
                String base = location.toString();
                URL file = base.endsWith("/") ? new URL(base + VERSION_RESOURCE)
                        : new URL("jar:" + base + "!/" + VERSION_RESOURCE);
                try (InputStream in = file.openStream()) {
                    Properties p = new Properties();
                    p.load(in);
                    String v = p.getProperty("version");
                    if (v != null && !v.isBlank()) {
                        return v.trim();
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall back to AppInfoParser below
        }
        for (String name : List.of("org.apache.kafka.common.utils.AppInfoParser",
                "org.apache.kafka.common.utils.internals.AppInfoParser")) {
            try {
                return String.valueOf(Class.forName(name, true, KafkaProducer.class.getClassLoader())
                        .getMethod("getVersion").invoke(null));
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                // try the next one
            }
        }
        return "unknown";
    }

    /** What {@link #state} reads: producer id and epoch, protocol version, transaction manager state name. */
    record ProducerState(long producerId, short epoch, boolean transactionV2, String managerState) {
    }

    /** The resolved members; the constructor fails when one is missing or has another shape. */
    private static final class Members {
        final Field transactionManager;
        final Class<?> managerClass;
        final Field producerIdAndEpoch;
        final Constructor<?> producerIdAndEpochConstructor;
        final Field producerIdField;
        final Field epochField;
        final Field currentState;
        final Object uninitialized;
        final Object initializing;
        final Object ready;
        final Method transitionTo;
        final Field transactionStarted;
        final Field transactionV2;
        final Method hasPartitionsToAdd;

        Members() throws ReflectiveOperationException {
            transactionManager = accessible(KafkaProducer.class.getDeclaredField("transactionManager"));
            managerClass = transactionManager.getType();
            producerIdAndEpoch = accessible(managerClass.getDeclaredField("producerIdAndEpoch"));
            Class<?> pieClass = producerIdAndEpoch.getType();
            producerIdAndEpochConstructor = accessible(pieClass.getDeclaredConstructor(long.class, short.class));
            producerIdField = accessible(pieClass.getDeclaredField("producerId"));
            require(producerIdField.getType() == long.class, "ProducerIdAndEpoch.producerId is not a long");
            epochField = accessible(pieClass.getDeclaredField("epoch"));
            require(epochField.getType() == short.class, "ProducerIdAndEpoch.epoch is not a short");
            currentState = accessible(managerClass.getDeclaredField("currentState"));
            Class<?> stateClass = currentState.getType();
            require(stateClass.isEnum(), "TransactionManager.currentState is not an enum");
            uninitialized = constant(stateClass, "UNINITIALIZED");
            initializing = constant(stateClass, "INITIALIZING");
            ready = constant(stateClass, "READY");
            transitionTo = accessible(managerClass.getDeclaredMethod("transitionTo", stateClass));
            transactionStarted = booleanField(managerClass, "transactionStarted");
            transactionV2 = booleanField(managerClass, "isTransactionV2Enabled");
            hasPartitionsToAdd = accessible(managerClass.getDeclaredMethod("hasPartitionsToAdd"));
            require(hasPartitionsToAdd.getReturnType() == boolean.class,
                    "TransactionManager.hasPartitionsToAdd() does not return a boolean");
        }

        Object transactionManager(KafkaProducer<?, ?> producer) {
            Object tm = get(transactionManager, Objects.requireNonNull(producer, "producer"));
            if (tm == null) {
                throw new IllegalStateException("the producer is not transactional (no transactional.id)");
            }
            return tm;
        }

        Object newProducerIdAndEpoch(long producerId, short epoch) {
            try {
                return producerIdAndEpochConstructor.newInstance(producerId, epoch);
            } catch (InstantiationException | IllegalAccessException | InvocationTargetException e) {
                throw broken(e);
            }
        }

        Object get(Field f, Object target) {
            try {
                return f.get(target);
            } catch (IllegalAccessException e) {
                throw broken(e);
            }
        }

        void set(Field f, Object target, Object value) {
            try {
                f.set(target, value);
            } catch (IllegalAccessException e) {
                throw broken(e);
            }
        }

        Object invoke(Method method, Object target, Object... args) {
            try {
                return method.invoke(target, args);
            } catch (IllegalAccessException e) {
                throw broken(e);
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw broken(cause);
            }
        }

        UnsupportedKafkaClientsException broken(Throwable e) {
            return new UnsupportedKafkaClientsException(VERSION, SUPPORTED_VERSIONS,
                    "accessing its producer internals failed (" + e + ")");
        }

        private static Field booleanField(Class<?> owner, String name) throws NoSuchFieldException {
            Field f = accessible(owner.getDeclaredField(name));
            require(f.getType() == boolean.class, owner.getSimpleName() + "." + name + " is not a boolean");
            require(!Modifier.isFinal(f.getModifiers()), owner.getSimpleName() + "." + name + " is final");
            return f;
        }

        private static Object constant(Class<?> enumClass, String name) {
            List<String> names = new ArrayList<>();
            for (Object c : enumClass.getEnumConstants()) {
                if (((Enum<?>) c).name().equals(name)) {
                    return c;
                }
                names.add(((Enum<?>) c).name());
            }
            throw new IllegalStateException(enumClass.getName() + " has no constant " + name + " (has " + names + ")");
        }

        private static <T extends java.lang.reflect.AccessibleObject> T accessible(T member) {
            member.setAccessible(true);
            return member;
        }

        private static void require(boolean condition, String message) {
            if (!condition) {
                throw new IllegalStateException(message);
            }
        }
    }
}
