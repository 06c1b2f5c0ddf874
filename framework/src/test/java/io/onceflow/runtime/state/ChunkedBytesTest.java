package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The arrays behind a restore's packed bytes: pieces never overlap and never span two arrays, and mixing small
 * pieces with large ones leaves no shared array more than a quarter empty.
 */
class ChunkedBytesTest {

    @Test
    void piecesGetDisjointRoomAndLargeOnesDoNotStrandTheArrayBeingFilled() {
        ChunkedBytes bytes = new ChunkedBytes();
        Map<Integer, List<int[]>> pieces = new HashMap<>();
        long small = 0;
        for (int i = 0; i < 20_000; i++) {
            int n = i % 10 == 9 ? ChunkedBytes.CHUNK_SIZE / 4 + 1 + i : 100 + i % 37;
            long at = bytes.reserve(n);
            int chunk = ChunkedBytes.chunkIndex(at);
            int offset = ChunkedBytes.offset(at);
            assertTrue(offset >= 0 && offset + n <= bytes.chunk(chunk).length, "piece " + i + " fits its array");
            pieces.computeIfAbsent(chunk, c -> new ArrayList<>()).add(new int[] {offset, offset + n});
            small += n <= ChunkedBytes.CHUNK_SIZE / 4 ? n : 0;
        }
        for (List<int[]> inOneArray : pieces.values()) {
            inOneArray.sort(Comparator.comparingInt(p -> p[0]));
            for (int k = 1; k < inOneArray.size(); k++) {
                assertTrue(inOneArray.get(k - 1)[1] <= inOneArray.get(k)[0], "two pieces overlap");
            }
        }
        int filling = -1; // the shared array small pieces go to now: the last one
        for (int c = 0; c < bytes.chunks(); c++) {
            filling = bytes.chunk(c).length == ChunkedBytes.CHUNK_SIZE ? c : filling;
        }
        int shared = 0;
        for (int c = 0; c < bytes.chunks(); c++) {
            byte[] chunk = bytes.chunk(c);
            if (chunk.length == ChunkedBytes.CHUNK_SIZE) {
                shared++;
                if (c != filling) {
                    assertTrue(bytes.used(c) > ChunkedBytes.CHUNK_SIZE * 3 / 4, "array " + c + " is " + bytes.used(c)
                            + " bytes full");
                }
            } else {
                assertEquals(chunk.length, bytes.used(c), "an array of its own is all one piece");
            }
        }
        assertEquals(2_000, bytes.chunks() - shared, "one array for each large piece");
        assertEquals((small + ChunkedBytes.CHUNK_SIZE - 1) / ChunkedBytes.CHUNK_SIZE, shared,
                "small pieces fill arrays");
        assertThrows(IllegalArgumentException.class, () -> bytes.reserve(-1));
    }
}
