package io.onceflow.twophase.file;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Reads what a reader of the output directory sees, independently of the sink: visible files only. */
final class CommittedFiles {

    private CommittedFiles() {
    }

    /** The committed files: not hidden, ending in .txt, by name. */
    static List<Path> committed(Path dir) {
        return list(dir, name -> !name.startsWith(".") && name.endsWith(".txt"));
    }

    /** Hidden in-progress files: uncommitted transactions. */
    static List<Path> inProgress(Path dir) {
        return list(dir, name -> name.startsWith(".") && name.endsWith(".inprogress"));
    }

    static List<Path> all(Path dir) {
        return list(dir, name -> true);
    }

    /** Every line of every committed file. */
    static List<String> lines(Path dir) {
        List<String> lines = new ArrayList<>();
        for (Path f : committed(dir)) {
            lines.addAll(lines(f.getFileName().toString(), dir));
        }
        return lines;
    }

    static List<String> lines(String fileName, Path dir) {
        try {
            return Files.readAllLines(dir.resolve(fileName), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String content(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Path> list(Path dir, java.util.function.Predicate<String> nameFilter) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> nameFilter.test(f.getFileName().toString())).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
