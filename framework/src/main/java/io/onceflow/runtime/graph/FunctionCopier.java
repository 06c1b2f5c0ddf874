package io.onceflow.runtime.graph;

import io.onceflow.runtime.JobConfigurationException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;

/**
 * Gives each subtask its own copy of a user function by Java serialization in memory (never written
 * anywhere: checkpoints use versioned binary formats).
 */
public final class FunctionCopier {

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
    public static <T> java.util.function.Supplier<T> copies(T function, String operator) {
        byte[] frozen = freeze(function, operator);
        ClassLoader loader = function.getClass().getClassLoader();
        return () -> thaw(frozen, loader);
    }
}
