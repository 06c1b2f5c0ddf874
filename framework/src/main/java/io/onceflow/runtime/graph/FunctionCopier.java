package io.onceflow.runtime.graph;

import io.onceflow.runtime.JobConfigurationException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Externalizable;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Gives each subtask its own copy of a user function by Java serialization in memory (never written
 * anywhere: checkpoints use versioned binary formats).
 *
 * <p>A function with nothing to serialize — no instance field that is not {@code transient} in its serializable
 * classes, no serialization hooks — is copied the way deserializing it would create it, without serializing it: a
 * new instance through its serialization constructor (the first non-serializable superclass's no-argument
 * constructor runs, its own and its serializable superclasses' constructors do not, so its transient fields stay
 * unset, as after a deserialization). The usual word count's functions are such; what this skips is Java
 * serialization's cold start in every new process (its class descriptors, the default {@code serialVersionUID}'s
 * SHA digest and the security providers behind it: some 50 ms of a start, on the thread that builds the job).
 */
public final class FunctionCopier {

    /** Methods by which a serializable class changes what is written or read: a class with any is serialized. */
    private static final Set<String> SERIALIZATION_HOOKS =
            Set.of("writeObject", "readObject", "readObjectNoData", "writeReplace", "readResolve");

    private FunctionCopier() {
    }

    /** Serializes once, up front, so that a function that cannot be copied fails when the job is built. */
    public static byte[] freeze(Object function, String operator) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(function);
        } catch (NotSerializableException e) {
            throw new JobConfigurationException("The function of operator '" + operator + "' (" + function.getClass().getName()
                    + ") cannot be copied for each parallel subtask: it holds a " + e.getMessage()
                    + ", which is not serializable. Make that class Serializable, mark the field transient and create "
                    + "it in open(), or keep it in a static field", e);
        } catch (IOException e) {
            throw new JobConfigurationException("The function of operator '" + operator + "' cannot be copied for each "
                    + "parallel subtask: " + e, e);
        }
        return bytes.toByteArray();
    }

    @SuppressWarnings("unchecked")
    public static <T> T thaw(byte[] frozen, ClassLoader loader) {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(frozen)) {
            @Override
            protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
                try {
                    return Class.forName(desc.getName(), false, loader);
                } catch (ClassNotFoundException e) {
                    return super.resolveClass(desc);
                }
            }
        }) {
            return (T) in.readObject();
        } catch (IOException | ClassNotFoundException e) {
            throw new IllegalStateException("Could not copy a user function: " + e, e);
        }
    }

    /** A supplier of fresh copies of {@code function}. */
    public static <T> Supplier<T> copies(T function, String operator) {
        Constructor<?> fresh = withNothingToSerialize(function.getClass());
        if (fresh != null) {
            return () -> newInstance(fresh);
        }
        byte[] frozen = freeze(function, operator);
        ClassLoader loader = function.getClass().getClassLoader();
        return () -> thaw(frozen, loader);
    }

    @SuppressWarnings("unchecked")
    private static <T> T newInstance(Constructor<?> constructor) {
        try {
            return (T) constructor.newInstance();
        } catch (InstantiationException | IllegalAccessException e) {
            throw new IllegalStateException("Could not copy a user function: " + e, e);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("Could not copy a user function: " + e.getCause(), e.getCause());
        }
    }

    /**
     * The serialization constructor of {@code type} if an instance of it has nothing to serialize, so that a new
     * instance from it is what a deserialized copy would be; else null (serialize it).
     */
    static Constructor<?> withNothingToSerialize(Class<?> type) {
        if (!Serializable.class.isAssignableFrom(type) || Externalizable.class.isAssignableFrom(type)
                || type.isRecord() || type.isEnum() || type.isArray() || type.isHidden() || type.isSynthetic()
                || Proxy.isProxyClass(type)) {
            return null;
        }
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            for (Method m : c.getDeclaredMethods()) {
                if (SERIALIZATION_HOOKS.contains(m.getName())) {
                    return null; // in a non-serializable superclass too: an inherited readResolve counts
                }
            }
            if (!Serializable.class.isAssignableFrom(c)) {
                continue;
            }
            for (Field f : c.getDeclaredFields()) {
                int m = f.getModifiers();
                if (f.getName().equals("serialPersistentFields") && Modifier.isStatic(m)) {
                    return null;
                }
                if (!Modifier.isStatic(m) && !Modifier.isTransient(m)) {
                    return null;
                }
            }
        }
        try {
            // null when the first non-serializable superclass has no accessible no-argument constructor: then the
            // deserialization fails too, as it should, with its own message
            return sun.reflect.ReflectionFactory.getReflectionFactory().newConstructorForSerialization(type);
        } catch (RuntimeException e) {
            return null;
        }
    }
}
