package io.onceflow.api.serialization;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Built-in serializers for common types, and {@link #forClass(Class)} which picks one.
 */
public final class Serializers {

    private Serializers() {
    }

    public static final TypeSerializer<String> STRING = new TypeSerializer<>() {
        @Override
        public void serialize(String value, DataOutput out) throws IOException {
            byte[] bytes = value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out.writeInt(bytes.length);
            out.write(bytes);
        }

        @Override
        public String deserialize(DataInput in) throws IOException {
            byte[] bytes = new byte[in.readInt()];
            in.readFully(bytes);
            return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
        }
    };

    public static final TypeSerializer<Long> LONG = new TypeSerializer<>() {
        @Override
        public void serialize(Long value, DataOutput out) throws IOException {
            out.writeLong(value);
        }

        @Override
        public Long deserialize(DataInput in) throws IOException {
            return in.readLong();
        }
    };

    public static final TypeSerializer<Integer> INT = new TypeSerializer<>() {
        @Override
        public void serialize(Integer value, DataOutput out) throws IOException {
            out.writeInt(value);
        }

        @Override
        public Integer deserialize(DataInput in) throws IOException {
            return in.readInt();
        }
    };

    public static final TypeSerializer<Double> DOUBLE = new TypeSerializer<>() {
        @Override
        public void serialize(Double value, DataOutput out) throws IOException {
            out.writeDouble(value);
        }

        @Override
        public Double deserialize(DataInput in) throws IOException {
            return in.readDouble();
        }
    };

    public static final TypeSerializer<Boolean> BOOLEAN = new TypeSerializer<>() {
        @Override
        public void serialize(Boolean value, DataOutput out) throws IOException {
            out.writeBoolean(value);
        }

        @Override
        public Boolean deserialize(DataInput in) throws IOException {
            return in.readBoolean();
        }
    };

    public static final TypeSerializer<byte[]> BYTES = new TypeSerializer<>() {
        @Override
        public void serialize(byte[] value, DataOutput out) throws IOException {
            out.writeInt(value.length);
            out.write(value);
        }

        @Override
        public byte[] deserialize(DataInput in) throws IOException {
            byte[] bytes = new byte[in.readInt()];
            in.readFully(bytes);
            return bytes;
        }
    };

    /** A serializer for lists whose elements use {@code element}. */
    public static <T> TypeSerializer<List<T>> listOf(TypeSerializer<T> element) {
        return new TypeSerializer<>() {
            @Override
            public void serialize(List<T> value, DataOutput out) throws IOException {
                out.writeInt(value.size());
                for (T t : value) {
                    element.serialize(t, out);
                }
            }

            @Override
            public List<T> deserialize(DataInput in) throws IOException {
                int n = in.readInt();
                List<T> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(element.deserialize(in));
                }
                return list;
            }
        };
    }

    /**
     * The built-in serializer for {@code type}.
     *
     * @throws IllegalArgumentException naming the type when there is none, and saying how to pass one
     */
    @SuppressWarnings("unchecked")
    public static <T> TypeSerializer<T> forClass(Class<T> type) {
        if (type == String.class) {
            return (TypeSerializer<T>) STRING;
        } else if (type == Long.class || type == long.class) {
            return (TypeSerializer<T>) LONG;
        } else if (type == Integer.class || type == int.class) {
            return (TypeSerializer<T>) INT;
        } else if (type == Double.class || type == double.class) {
            return (TypeSerializer<T>) DOUBLE;
        } else if (type == Boolean.class || type == boolean.class) {
            return (TypeSerializer<T>) BOOLEAN;
        } else if (type == byte[].class) {
            return (TypeSerializer<T>) BYTES;
        }
        throw new IllegalArgumentException("No built-in serializer for " + type.getName()
                + ": pass a TypeSerializer<" + type.getSimpleName() + "> explicitly (built-ins cover "
                + "String, Long, Integer, Double, Boolean and byte[])");
    }

    /**
     * A serializer that writes a one-byte type tag before the value, for keys whose type is only
     * known at run time. Supports the built-in types; anything else fails with a message that says to
     * pass a key serializer to {@code keyBy}.
     */
    public static TypeSerializer<Object> dynamic() {
        return DynamicSerializer.INSTANCE;
    }

    private static final class DynamicSerializer implements TypeSerializer<Object> {
        static final DynamicSerializer INSTANCE = new DynamicSerializer();

        @Override
        public void serialize(Object value, DataOutput out) throws IOException {
            if (value instanceof String s) {
                out.writeByte(1);
                STRING.serialize(s, out);
            } else if (value instanceof Long l) {
                out.writeByte(2);
                out.writeLong(l);
            } else if (value instanceof Integer i) {
                out.writeByte(3);
                out.writeInt(i);
            } else if (value instanceof Double d) {
                out.writeByte(4);
                out.writeDouble(d);
            } else if (value instanceof Boolean b) {
                out.writeByte(5);
                out.writeBoolean(b);
            } else if (value instanceof byte[] bytes) {
                out.writeByte(6);
                BYTES.serialize(bytes, out);
            } else {
                throw new IOException("Cannot write a key of type " + value.getClass().getName()
                        + " into a checkpoint: pass a TypeSerializer for it, for example "
                        + "keyBy(selector, mySerializer)");
            }
        }

        @Override
        public Object deserialize(DataInput in) throws IOException {
            int tag = in.readByte();
            return switch (tag) {
                case 1 -> STRING.deserialize(in);
                case 2 -> in.readLong();
                case 3 -> in.readInt();
                case 4 -> in.readDouble();
                case 5 -> in.readBoolean();
                case 6 -> BYTES.deserialize(in);
                default -> throw new IOException("Unknown key type tag " + tag
                        + " in checkpoint data: the checkpoint is corrupt or was written by another program");
            };
        }
    }
}
