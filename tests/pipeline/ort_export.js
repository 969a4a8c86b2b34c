// tests/pipeline/ort_export.js: runs an ONNX file with ONNX Runtime (onnxruntime-node) on a raw
// float32 NCHW input and prints one output's values separated by spaces, for check_loop.c's
// export check. usage: node ort_export.js MODEL INPUT.f32 N C H W OUTPUT_NAME
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
    const [model, raw, n, c, h, w, name] = process.argv.slice(2);
    const buf = fs.readFileSync(raw);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const session = await ort.InferenceSession.create(model);
    const input = new ort.Tensor('float32', data, [n, c, h, w].map(Number));
    const out = await session.run({[session.inputNames[0]]: input});
    console.log(Array.from(out[name].data).join(' '));
}
main().catch((e) => {
    console.error(e.message);
    process.exit(1);
});
