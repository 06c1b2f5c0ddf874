package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import java.io.ByteArrayOutputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UTFDataFormatException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The buffer a snapshot's entries are assembled in writes, method by method, the bytes {@link DataOutputStream}
 * writes (user serializers call any of them), and an entry assembled there is the entry of the state format.
 */
class ReusableBytesTest {

    /** Calls every method of {@link DataOutput} with edge values, enough of them to grow the buffer several times. */
    static void writeEverything(DataOutput out) throws IOException {
        for (int round = 0; round < 3; round++) {
            out.write(0x1ff);
            out.write(new byte[] {1, -2, 3});
            out.write(new byte[] {9, 8, 7, 6, 5}, 1, 3);
            out.writeBoolean(true);
            out.writeBoolean(false);
            out.writeByte(-129);
            out.writeShort(-2);
            out.writeShort(0x12345);
            out.writeChar('\u20ac');
            out.writeInt(Integer.MIN_VALUE);
            out.writeInt(0x01020304);
            out.writeLong(Long.MIN_VALUE + 0x0102030405060708L);
            out.writeLong(-1);
            out.writeFloat(Float.NaN);
            out.writeFloat(-1.5f);
            out.writeDouble(Double.MIN_VALUE);
            out.writeDouble(Math.PI);
            out.writeBytes("A\u0100\u20acz");
            out.writeChars("A\u0100\u20acz");
            out.writeUTF("");
            out.writeUTF("plain");
            out.writeUTF("\u0000 \u00e9 \u20ac \ud83d\ude00");
            out.write(new byte[300]);
        }
    }

    @Test
    void everyMethodWritesWhatDataOutputStreamWrites() throws IOException {
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        writeEverything(new DataOutputStream(expected));
        ReusableBytes bytes = new ReusableBytes(1);
        writeEverything(bytes);
        assertArrayEquals(expected.toByteArray(), Arrays.copyOf(bytes.array(), bytes.size()));

        bytes.reset();
        assertEquals(0, bytes.size());
        bytes.writeInt(7);
        assertArrayEquals(new byte[] {0, 0, 0, 7}, Arrays.copyOf(bytes.array(), bytes.size()));
    }

    @Test
    void aStringTooLongForWriteUtfFailsAsItDoesOnAStream() {
        String tooLong = "x".repeat(65_536);
        assertThrows(UTFDataFormatException.class,
                () -> new DataOutputStream(new ByteArrayOutputStream()).writeUTF(tooLong));
        assertThrows(UTFDataFormatException.class, () -> new ReusableBytes(8).writeUTF(tooLong));
    }

    @Test
    void aLengthLeftOpenIsFilledWithWhatFollowsIt() {
        ReusableBytes bytes = new ReusableBytes(2);
        bytes.writeByte(42);
        int at = bytes.skipInt();
        bytes.write(new byte[1000]);
        bytes.fillLength(at);
        byte[] written = Arrays.copyOf(bytes.array(), bytes.size());
        assertEquals(1 + 4 + 1000, written.length);
        assertArrayEquals(new byte[] {42, 0, 0, 0x03, (byte) 0xe8}, Arrays.copyOf(written, 5));
    }

    @Test
    void anEntryAssembledInPlaceIsTheEntryOfItsSerializedArrays() throws IOException {
        TypeSerializer<Map<String, Long>> values = new TypeSerializer<>() {
            @Override
            public void serialize(Map<String, Long> value, DataOutput out) throws IOException {
                out.writeInt(value.size());
                for (Map.Entry<String, Long> e : value.entrySet()) {
                    out.writeUTF(e.getKey());
                    out.writeLong(e.getValue());
                }
            }

            @Override
            public Map<String, Long> deserialize(java.io.DataInput in) {
                throw new UnsupportedOperationException();
            }
        };
        ReusableBytes entry = new ReusableBytes(4);
        for (Object key : List.<Object>of("w\u00f6rd", 17L, "k".repeat(500))) {
            Map<String, Long> value = Map.of("a", 1L, "\u20ac", -2L);
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            SubtaskStateFormat.writeKeyedEntry(new DataOutputStream(expected), 3, 99, serialized(Serializers.dynamic(), key),
                    serialized(values, value));
            ByteArrayOutputStream actual = new ByteArrayOutputStream();
            SubtaskStateFormat.writeKeyedEntry(new DataOutputStream(actual), entry, 3, 99, Serializers.dynamic(), key,
                    values, value);
            assertArrayEquals(expected.toByteArray(), actual.toByteArray(), "entry of key " + key);

            ByteArrayOutputStream removal = new ByteArrayOutputStream();
            HeapStateChain.writeRemoval(new DataOutputStream(removal), entry, 3, 99, Serializers.dynamic(), key);
            byte[] keyBytes = serialized(Serializers.dynamic(), key);
            ByteArrayOutputStream expectedRemoval = new ByteArrayOutputStream();
            DataOutputStream r = new DataOutputStream(expectedRemoval);
            r.writeShort(3);
            r.writeInt(99);
            r.writeInt(keyBytes.length);
            r.write(keyBytes);
            r.writeInt(HeapStateChain.REMOVED);
            assertArrayEquals(expectedRemoval.toByteArray(), removal.toByteArray(), "removal of key " + key);
        }
    }

    private static <T> byte[] serialized(TypeSerializer<T> serializer, T value) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        serializer.serialize(value, new DataOutputStream(bytes));
        return bytes.toByteArray();
    }
}
