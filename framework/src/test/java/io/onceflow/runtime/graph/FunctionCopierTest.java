package io.onceflow.runtime.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.runtime.JobConfigurationException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class FunctionCopierTest {

    /** Not serializable: deserialization runs this constructor, and so must a copy made without serializing. */
    abstract static class Base {
        final String setByBase;

        Base() {
            setByBase = "base constructor ran";
        }
    }

    /** Nothing to serialize: transient fields only, the way functions keep what open() creates. */
    static final class Stateless extends Base implements FlatMapFunction<String, String> {
        private transient List<String> createdInOpen = new ArrayList<>(List.of("set by an initialiser"));
        private transient int calls = 7;

        @Override
        public void flatMap(String value, Collector<String> out) {
            calls++;
            out.collect(value);
        }
    }

    /** A field to serialize: each copy gets its own. */
    static final class WithState implements MapFunction<String, String> {
        private final List<String> seen = new ArrayList<>();

        @Override
        public String map(String value) {
            seen.add(value);
            return value;
        }
    }

    /** Nothing to serialize, but a hook that changes what deserializing it gives. */
    static final class Resolving implements MapFunction<String, String> {
        static final Resolving ONE = new Resolving();

        @Override
        public String map(String value) {
            return value;
        }

        private Object readResolve() {
            return ONE;
        }
    }

    static final class Unserializable {
    }

    static final class HoldsUnserializable implements MapFunction<String, String> {
        private final Unserializable helper = new Unserializable();

        @Override
        public String map(String value) {
            return value + helper;
        }
    }

    @Test
    void aFunctionWithNothingToSerializeIsCopiedAsDeserializingItWould() {
        Stateless original = new Stateless();
        original.calls = 99;
        assertNotNull(FunctionCopier.withNothingToSerialize(Stateless.class), "copied without serializing");

        Supplier<Stateless> copies = FunctionCopier.copies(original, "flatMap");
        Stateless a = copies.get();
        Stateless b = copies.get();
        Stateless deserialized = FunctionCopier.thaw(FunctionCopier.freeze(original, "flatMap"),
                Stateless.class.getClassLoader());
        assertNotSame(a, b);
        assertNotSame(original, a);
        for (Stateless copy : List.of(a, b, deserialized)) {
            assertNull(copy.createdInOpen, "a transient field's initialiser does not run, as in a deserialization");
            assertEquals(0, copy.calls, "transient fields keep their defaults");
            assertEquals("base constructor ran", copy.setByBase, "the non-serializable superclass's constructor ran");
        }
    }

    @Test
    void aFunctionWithStateIsSerializedAndEachCopyHasItsOwn() {
        WithState original = new WithState();
        original.map("before");
        assertNull(FunctionCopier.withNothingToSerialize(WithState.class));

        Supplier<WithState> copies = FunctionCopier.copies(original, "map");
        original.map("after the copies were taken");
        WithState a = copies.get();
        WithState b = copies.get();
        assertEquals(List.of("before"), a.seen);
        assertNotSame(a.seen, b.seen);
        a.map("only in a");
        assertEquals(List.of("before"), b.seen);
    }

    @Test
    void aFunctionWithASerializationHookGoesThroughSerialization() {
        assertNull(FunctionCopier.withNothingToSerialize(Resolving.class));
        assertSame(Resolving.ONE, FunctionCopier.copies(new Resolving(), "map").get(), "its readResolve ran");
    }

    @Test
    void aLambdaIsCopiedWithWhatItCaptured() {
        String suffix = "!";
        MapFunction<String, String> lambda = value -> value + suffix;
        assertNull(FunctionCopier.withNothingToSerialize(lambda.getClass()));
        MapFunction<String, String> copy = FunctionCopier.copies(lambda, "map").get();
        assertNotSame(lambda, copy);
        assertEquals(List.of("a!"), List.of(uncheckedMap(copy, "a")));
    }

    @Test
    void aFunctionThatCannotBeCopiedFailsWhenTheJobIsBuiltNamingWhatItHolds() {
        JobConfigurationException e = assertThrows(JobConfigurationException.class,
                () -> FunctionCopier.copies(new HoldsUnserializable(), "map"));
        assertTrue(e.getMessage().contains(Unserializable.class.getName()), e.getMessage());
        assertTrue(e.getMessage().contains("transient"), e.getMessage());
    }

    private static String uncheckedMap(MapFunction<String, String> f, String value) {
        try {
            return f.map(value);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
