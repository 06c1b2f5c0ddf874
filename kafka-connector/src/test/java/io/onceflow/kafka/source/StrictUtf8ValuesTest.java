package io.onceflow.kafka.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** {@link KafkaRecordDeserializer#strictUtf8Values()}: valid UTF-8 becomes its text, anything else throws. */
class StrictUtf8ValuesTest {
    private final KafkaRecordDeserializer<String> strict = KafkaRecordDeserializer.strictUtf8Values();

    @Test
    void validTextIncludingAnEncodedReplacementCharacter() throws Exception {
        assertEquals("plain words", strict.deserialize(record("plain words".getBytes(StandardCharsets.UTF_8))));
        String mixed = "Grüße, 世界, \uD83D\uDE00 and a real \uFFFD";
        assertEquals(mixed, strict.deserialize(record(mixed.getBytes(StandardCharsets.UTF_8))));
        assertEquals("", strict.deserialize(record(new byte[0])));
    }

    @Test
    void malformedBytesThrow() {
        byte[][] bad = {
            {(byte) 0xC3, 0x28},                     // a lead byte without its continuation
            {'a', (byte) 0xFF, 'b'},                 // never valid in UTF-8
            {(byte) 0xE4, (byte) 0xB8},              // cut off
            {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, // an encoded surrogate
            {(byte) 0xC0, (byte) 0xAF},              // overlong
            {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD, (byte) 0x80}, // a real U+FFFD, then a stray continuation
        };
        for (byte[] b : bad) {
            assertThrows(CharacterCodingException.class, () -> strict.deserialize(record(b)));
        }
        assertThrows(IllegalArgumentException.class, () -> strict.deserialize(record(null)));
    }

    /** Random bytes, mostly valid text with damage here and there: the same verdict as a strict decoder alone. */
    @Test
    void agreesWithAStrictDecoderOnRandomInput() throws Exception {
        Random random = new Random(11);
        String alphabet = "abc xyz äöü €ß 中文 \uD83D\uDE00\uFFFD";
        int valid = 0;
        for (int i = 0; i < 20_000; i++) {
            StringBuilder text = new StringBuilder();
            for (int n = random.nextInt(12); n > 0; n--) {
                int at = random.nextInt(alphabet.length());
                text.append(Character.isHighSurrogate(alphabet.charAt(at)) ? alphabet.substring(at, at + 2)
                        : Character.isLowSurrogate(alphabet.charAt(at)) ? "x" : alphabet.charAt(at));
            }
            byte[] b = text.toString().getBytes(StandardCharsets.UTF_8);
            if (b.length > 0 && random.nextInt(3) == 0) {
                b[random.nextInt(b.length)] = (byte) random.nextInt(256);
            }
            String expected;
            try {
                expected = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                assertThrows(CharacterCodingException.class, () -> strict.deserialize(record(b)));
                continue;
            }
            assertEquals(expected, strict.deserialize(record(b)));
            valid++;
        }
        assertEquals(true, valid > 10_000 && valid < 20_000, valid + " of the inputs were valid: both kinds must be tried");
    }

    private static ConsumerRecord<byte[], byte[]> record(byte[] value) {
        return new ConsumerRecord<>("in", 0, 0L, null, value);
    }
}
