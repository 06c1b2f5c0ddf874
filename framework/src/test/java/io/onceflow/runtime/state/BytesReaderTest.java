package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reader a restore deserializes its state with reads, method by method, what {@link DataInputStream} reads from
 * the same bytes (user serializers call any of them), one array after another, and ends as a stream does.
 */
class BytesReaderTest {

    /** What {@link ReusableBytesTest#writeEverything} writes, and lines, as {@link DataOutputStream} writes them. */
    private static byte[] everything() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        ReusableBytesTest.writeEverything(out);
        out.writeBytes("first\r\nsecond\rthird\n\u00e9nd");
        return bytes.toByteArray();
    }

    /** Reads {@link #everything()} back with every method of {@link DataInput}, each value as a string. */
    private static final TypeSerializer<List<String>> READ_EVERYTHING = new TypeSerializer<>() {
        @Override
        public void serialize(List<String> value, DataOutput out) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<String> deserialize(DataInput in) throws IOException {
            List<String> read = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                read.add(String.valueOf(in.readUnsignedByte()));
                byte[] three = new byte[3];
                in.readFully(three);
                byte[] five = new byte[5];
                in.readFully(five, 1, 3);
                read.add(Arrays.toString(three) + Arrays.toString(five));
                read.add(in.readBoolean() + " " + in.readBoolean() + " " + in.readByte());
                read.add(in.readShort() + " " + in.readUnsignedShort() + " " + in.readChar());
                read.add(in.readInt() + " " + in.readInt() + " " + in.readLong() + " " + in.readLong());
                read.add(in.readFloat() + " " + in.readFloat() + " " + in.readDouble() + " " + in.readDouble());
                read.add(in.readByte() + " " + in.readByte() + " " + in.skipBytes(2)); // writeBytes: one byte a char
                read.add("" + in.readChar() + in.readChar() + in.readChar() + in.readChar());
                read.add("[" + in.readUTF() + "] [" + in.readUTF() + "] [" + in.readUTF() + "]");
                read.add(String.valueOf(in.skipBytes(300)));
            }
            read.add(in.readLine() + "|" + in.readLine() + "|" + in.readLine() + "|" + in.readLine() + "|"
                    + in.readLine());
            read.add(String.valueOf(in.skipBytes(10)));
            return read;
        }
    };

    @Test
    void everyMethodReadsWhatDataInputStreamReads() throws IOException {
        byte[] bytes = everything();
        List<String> expected = READ_EVERYTHING.deserialize(new DataInputStream(new ByteArrayInputStream(bytes)));
        BytesReader reader = new BytesReader();
        assertEquals(expected, reader.read(READ_EVERYTHING, bytes));
        assertEquals(expected, reader.read(READ_EVERYTHING, bytes), "the same reader, pointed at the array again");
        assertEquals("first|second|third|\u00e9nd|null", expected.get(expected.size() - 2), "the expectation itself");
        assertEquals("[] [plain] [\u0000 \u00e9 \u20ac \ud83d\ude00]", expected.get(8), "the expectation itself");
    }

    @Test
    void oneReaderReadsOneArrayAfterAnother() throws IOException {
        BytesReader reader = new BytesReader();
        TypeSerializer<Object> dynamic = Serializers.dynamic();
        for (Object value : List.<Object>of("w\u00f6rd", 17L, "k".repeat(70_000), 3, "")) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            dynamic.serialize(value, new DataOutputStream(bytes));
            assertEquals(value, reader.read(dynamic, bytes.toByteArray()));
        }
    }

    @Test
    void readingPastTheEndFailsAsOnAStream() throws IOException {
        byte[] threeBytes = {0, 0, 7};
        TypeSerializer<Integer> anInt = new TypeSerializer<>() {
            @Override
            public void serialize(Integer value, DataOutput out) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Integer deserialize(DataInput in) throws IOException {
                return in.readInt();
            }
        };
        assertThrows(EOFException.class,
                () -> anInt.deserialize(new DataInputStream(new ByteArrayInputStream(threeBytes))));
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> new BytesReader().read(anInt, threeBytes));
        assertInstanceOf(EOFException.class, e.getCause());
        TypeSerializer<byte[]> negative = new TypeSerializer<>() {
            @Override
            public void serialize(byte[] value, DataOutput out) {
                throw new UnsupportedOperationException();
            }

            @Override
            public byte[] deserialize(DataInput in) throws IOException {
                byte[] b = new byte[4];
                in.readFully(b, 0, -1);
                return b;
            }
        };
        assertThrows(IndexOutOfBoundsException.class,
                () -> negative.deserialize(new DataInputStream(new ByteArrayInputStream(threeBytes))));
        assertThrows(IndexOutOfBoundsException.class, () -> new BytesReader().read(negative, threeBytes));
        byte[] fourBytes = {0, 0, 0, 7};
        assertEquals(7, new BytesReader().read(anInt, fourBytes));
        assertArrayEquals(new byte[] {0, 0, 0, 7}, fourBytes, "the array is read, not changed");
    }

    @Test
    void aValueInsideALargerArrayIsReadAsIfItWereTheWholeArray() throws IOException {
        byte[] bytes = everything();
        List<String> expected = READ_EVERYTHING.deserialize(new DataInputStream(new ByteArrayInputStream(bytes)));
        byte[] inside = new byte[bytes.length + 20];
        Arrays.fill(inside, (byte) '\n'); // what lies around it would end a line early or add lines
        System.arraycopy(bytes, 0, inside, 9, bytes.length);
        BytesReader reader = new BytesReader();
        assertEquals(expected, reader.read(READ_EVERYTHING, inside, 9, bytes.length));

        byte[] sevenThenMore = {1, 2, 0, 0, 0, 7, 0, 0, 0, 9};
        TypeSerializer<Integer> anInt = Serializers.INT;
        assertEquals(7, reader.read(anInt, sevenThenMore, 2, 4));
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> reader.read(anInt, sevenThenMore, 2, 3), "the bytes beyond the value are not read");
        assertInstanceOf(EOFException.class, e.getCause());
        assertThrows(IndexOutOfBoundsException.class, () -> reader.read(anInt, sevenThenMore, 8, 4));
    }
}
