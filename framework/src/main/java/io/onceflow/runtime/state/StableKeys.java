package io.onceflow.runtime.state;

import io.onceflow.api.functions.KeySelector;
import io.onceflow.runtime.JobConfigurationException;
import java.io.Serializable;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * Keys must hash the same way in every JVM: the key group of a key decides which subtask holds its
 * state, and a checkpoint is restored in another process. {@code byte[]} keys are hashed and compared
 * by content; enums, other arrays and classes that inherit {@link Object#hashCode()} (identity hashes,
 * different in every JVM) are refused, when the job is built where the key type can be read off the
 * key selector, otherwise at the first such key.
 */
public final class StableKeys {

    private StableKeys() {
    }

    /** A {@code byte[]} key by content. */
    record ByteArrayKey(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ByteArrayKey other && Arrays.equals(bytes, other.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return "byte[" + bytes.length + "]";
        }
    }

    /** Why keys of {@code type} have no stable hash, or null when they do (or cannot be told from the type). */
    private static final ClassValue<String> VERDICTS = new ClassValue<>() {
        @Override
        protected String computeValue(Class<?> type) {
            return unstableReason(type, new HashSet<>());
        }
    };

    /** The hash that decides a key's group: by content for {@code byte[]}, else {@code hashCode()}. */
    public static int hash(Object key) {
        return key instanceof byte[] bytes ? Arrays.hashCode(bytes) : key.hashCode();
    }

    /** The form a key takes inside a state table: {@code byte[]} wrapped so that equal contents are one key. */
    public static Object normalize(Object key) {
        return key instanceof byte[] bytes ? new ByteArrayKey(bytes) : key;
    }

    /** The user's form of a key taken from a state table. */
    public static Object original(Object stored) {
        return stored instanceof ByteArrayKey k ? k.bytes() : stored;
    }

    /**
     * Throws when keys of this runtime class have no stable hash.
     *
     * @throws JobConfigurationException naming the operator, the type and what to use instead
     */
    public static void check(Object key, String operator) {
        String reason = VERDICTS.get(key.getClass());
        if (reason != null) {
            throw refusal(key.getClass(), reason, operator);
        }
    }

    /**
     * Checks a key a keyed operator is about to use: not null, and of a type with a stable hash.
     *
     * @throws NullPointerException when the key selector returned null
     * @throws JobConfigurationException when keys of this type have no stable hash
     */
    public static void checkRecordKey(Object key, String operatorUid) {
        if (key == null) {
            throw new NullPointerException("The key selector of operator '" + operatorUid
                    + "' returned null: every record of a keyed stream needs a key");
        }
        check(key, "operator '" + operatorUid + "'");
    }

    /**
     * {@link #checkRecordKey} for one operator's records, record after record: a key class found stable is
     * not looked up again (a class lookup per record otherwise). One thread.
     */
    public static final class RecordKeyCheck {
        private final String operatorUid;
        private Class<?> stable;

        public RecordKeyCheck(String operatorUid) {
            this.operatorUid = operatorUid;
        }

        public void check(Object key) {
            if (key == null || key.getClass() != stable) {
                checkRecordKey(key, operatorUid);
                stable = key.getClass();
            }
        }
    }

    /**
     * Checks the key type a key selector declares, when it can be read off (a lambda's or method
     * reference's return type, a class's type argument); does nothing when it cannot.
     *
     * @throws IllegalArgumentException naming the type and what to use instead
     */
    public static void checkSelector(KeySelector<?, ?> selector, String operator) {
        Class<?> type = declaredKeyType(selector);
        if (type == null) {
            return;
        }
        String reason = VERDICTS.get(type);
        if (reason != null) {
            throw new IllegalArgumentException(refusal(type, reason, operator).getMessage());
        }
    }

    private static JobConfigurationException refusal(Class<?> type, String reason, String operator) {
        return new JobConfigurationException("The keys of " + operator + " are of type " + type.getName() + ", "
                + reason + ": its hashCode() differs from one JVM to the next, so after a restart a key would land "
                + "in another key group and its state would be lost. Key by something whose hash is computed from "
                + "its content instead: a String (for an enum, its name()), a number, a byte[], or a record or "
                + "class whose hashCode() is built from fields of such types");
    }

    private static String unstableReason(Class<?> type, Set<Class<?>> seen) {
        if (type == byte[].class || type.isPrimitive() || !seen.add(type)) {
            return null;
        }
        if (type.isArray()) {
            return "an array (arrays hash by identity; only byte[] keys are compared by content)";
        }
        if (type.isEnum() || (type.getSuperclass() != null && type.getSuperclass().isEnum())) {
            return "an enum (enums hash by identity)";
        }
        if (type.isInterface() || Modifier.isAbstract(type.getModifiers()) || type == Object.class) {
            return null; // the runtime class of each key decides
        }
        try {
            Method hashCode = type.getMethod("hashCode");
            if (hashCode.getDeclaringClass() == Object.class) {
                return "which does not override hashCode() (it inherits Object's identity hash)";
            }
        } catch (NoSuchMethodException e) {
            return null;
        }
        if (type.isRecord()) {
            for (RecordComponent c : type.getRecordComponents()) {
                String inner = unstableReason(c.getType(), seen);
                if (inner != null) {
                    return "a record whose component '" + c.getName() + "' is of type " + c.getType().getName() + ", "
                            + inner;
                }
            }
        }
        return null;
    }

    /** The key type a selector declares, or null when it cannot be told. */
    static Class<?> declaredKeyType(KeySelector<?, ?> selector) {
        Class<?> c = selector.getClass();
        if (c.isSynthetic() && selector instanceof Serializable) {
            try {
                Method writeReplace = c.getDeclaredMethod("writeReplace");
                writeReplace.setAccessible(true);
                if (writeReplace.invoke(selector) instanceof SerializedLambda lambda) {
                    String signature = lambda.getInstantiatedMethodType();
                    String ret = signature.substring(signature.lastIndexOf(')') + 1);
                    return ret.startsWith("L") && ret.endsWith(";")
                            ? Class.forName(ret.substring(1, ret.length() - 1).replace('/', '.'), false, c.getClassLoader())
                            : ret.startsWith("[") ? Class.forName(ret.replace('/', '.'), false, c.getClassLoader()) : null;
                }
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                return null;
            }
            return null;
        }
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            for (Type t : k.getGenericInterfaces()) {
                if (t instanceof ParameterizedType p && p.getRawType() == KeySelector.class
                        && p.getActualTypeArguments()[1] instanceof Class<?> key) {
                    return key;
                }
            }
        }
        return null;
    }
}
