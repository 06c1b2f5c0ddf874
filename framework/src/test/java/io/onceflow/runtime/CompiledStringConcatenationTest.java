package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.runtime.task.StreamTask;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The framework is compiled with {@code -XDstringConcat=inline} (the root pom): javac's default links each string
 * concatenation through {@code StringConcatFactory} at its first run, which spins method-handle classes for every
 * new shape, cold work that a restarted process pays on its way to its first output (about 0.3 CPU seconds of a
 * restart, measured in the benchmark history). This fails when a build drops the flag.
 */
class CompiledStringConcatenationTest {

    @Test
    void noFrameworkClassLinksItsConcatenationsAtRunTime() throws Exception {
        Path classes = Path.of(StreamTask.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(Files.isDirectory(classes), "expected the framework's compiled classes in a directory: " + classes);
        List<Path> all;
        try (Stream<Path> files = Files.walk(classes)) {
            all = files.filter(f -> f.toString().endsWith(".class")).toList();
        }
        assertTrue(all.size() > 100, "found only " + all.size() + " classes under " + classes);
        List<String> linking = all.stream().filter(CompiledStringConcatenationTest::linksStringConcatenation)
                .map(f -> classes.relativize(f).toString()).sorted().toList();
        assertEquals(List.of(), linking, "these classes concatenate strings through StringConcatFactory: compile "
                + "with javac's -XDstringConcat=inline, as the root pom's maven-compiler-plugin does");
    }

    /** Whether the class file's constant pool names the factory (it does in every class with an indy concatenation). */
    private static boolean linksStringConcatenation(Path classFile) {
        try {
            String text = new String(Files.readAllBytes(classFile), StandardCharsets.ISO_8859_1);
            return text.contains("java/lang/invoke/StringConcatFactory");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
