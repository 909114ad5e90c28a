package dev.wush.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.quant.format.Int4;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.LayerInput;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.transform.TransformKind;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** A packed layer written and read back computes bit-identical outputs; corrupt streams and closed layers fail clearly. */
class PackedLayerStreamTest {

    static QuantizedLayer layer(QuantFormat f, TransformKind t, int out, int in) {
        Random random = new Random(in * 31L + out);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        double[] h = new double[in * in];
        float[] calib = Fp4KernelsTest.activations(32, in, 5);
        for (int r = 0; r < 32; r++) {
            for (int i = 0; i < in; i++) {
                for (int j = 0; j < in; j++) {
                    h[i * in + j] += (double) calib[r * in + i] * calib[r * in + j] / 32;
                }
            }
        }
        return Rtn.quantize(new LayerInput("stream.layer", w, out, in, h), f, t, 0);
    }

    static byte[] bytes(PackedLayer layer) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        layer.write(new DataOutputStream(bytes));
        return bytes.toByteArray();
    }

    static PackedLayer read(byte[] bytes) throws IOException {
        return PackedLayer.read(new DataInputStream(new ByteArrayInputStream(bytes)));
    }

    static Stream<Arguments> layers() {
        return Stream.of(
                Arguments.of(Mxfp4.DEFAULT, TransformKind.WUSH, 80, true),
                Arguments.of(Mxfp4.DEFAULT, TransformKind.IDENTITY, 64, false),
                Arguments.of(Nvfp4.perTensor(3.5f), TransformKind.HADAMARD, 48, true), // 48 = 16 mod 32: kernel padding
                Arguments.of(Nvfp4.FIXED, TransformKind.WUS, 172, true),
                Arguments.of(Int4.ABSMAX, TransformKind.WUSH, 64, true));
    }

    @ParameterizedTest(name = "{0} {1} in={2} W4A4={3}")
    @MethodSource("layers")
    void writtenAndReadBackGivesTheSameOutputsBitForBit(QuantFormat f, TransformKind t, int in, boolean w4a4) throws IOException {
        try (PackedLayer original = new PackedLayer(layer(f, t, 24, in), w4a4, Fp4Kernels.get());
                PackedLayer copy = read(bytes(original))) {
            float[] x = Fp4KernelsTest.activations(5, in, 17);
            assertArrayEquals(original.forward(x.clone(), 5), copy.forward(x.clone(), 5));
            assertEquals(original.name(), copy.name());
            assertEquals(original.format(), copy.format());
            assertEquals(original.transformKind(), copy.transformKind());
            assertEquals(original.quantizesActivations(), copy.quantizesActivations());
            assertEquals(original.residentBytes(), copy.residentBytes());
            assertArrayEquals(bytes(original), bytes(copy), "a copy writes the same stream");
        }
    }

    @Test
    void corruptStreamsAreRefusedWithTheReason() throws IOException {
        try (PackedLayer original = new PackedLayer(layer(Mxfp4.DEFAULT, TransformKind.WUSH, 8, 64), true, Fp4Kernels.get())) {
            byte[] good = bytes(original);

            byte[] version = good.clone();
            version[3] = 7;
            assertTrue(assertThrows(IOException.class, () -> read(version)).getMessage().contains("version 7"));

            byte[] truncated = java.util.Arrays.copyOf(good, good.length - 10);
            assertThrows(EOFException.class, () -> read(truncated));

            // the first scale code sits right after the codes: 8 rows × 32 bytes, preceded by their length
            int header = good.length - (8 + 8 * 32) - (8 + 8 * 2) - (8 + 2 * 32 * 32 * 4);
            byte[] nanScale = good.clone();
            nanScale[header + 8 + 8 * 32 + 8] = (byte) 0xFF; // E8M0 code 255 is NaN
            IOException e = assertThrows(IOException.class, () -> read(nanScale));
            assertTrue(e.getMessage().contains("scale code 255"), e.getMessage());

            byte[] nanTransform = good.clone();
            for (int i = 0; i < 4; i++) {
                nanTransform[good.length - 4 + i] = (byte) (i == 3 ? 0x7F : i == 2 ? 0xC0 : 0); // little-endian NaN
            }
            e = assertThrows(IOException.class, () -> read(nanTransform));
            assertTrue(e.getMessage().contains("transform value"), e.getMessage());
        }
    }

    @Test
    void closingFreesTheNativeArraysAtOnce() {
        PackedLayer layer = new PackedLayer(layer(Mxfp4.DEFAULT, TransformKind.WUSH, 16, 64), true, Fp4Kernels.get());
        long held = PackedLayer.liveNativeBytes();
        assertTrue(layer.isOpen());
        layer.close();
        assertFalse(layer.isOpen());
        // codes, scale codes and transforms; other tests' unreachable layers may be freed meanwhile, never allocated
        assertTrue(PackedLayer.liveNativeBytes() <= held - (16 * 32 + 16 * 2 + 2 * 32 * 32 * 4));
        layer.close(); // twice: nothing
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.forward(new float[64], 1));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }
}
