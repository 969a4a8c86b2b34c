// bench/ort_bench.js: the ONNX Runtime side of bench_models (bench/bench_models.c starts it,
// one process per model, batch and thread count, so that its peak RSS is its own).
//
// Loads an ONNX file with onnxruntime-node (the native CPU library it ships; `make
// bench-models` installs it into $(BUILD)/node_modules and points NODE_PATH there), CPU
// execution provider, all graph optimizations, intraOpNumThreads = --threads, one inter-op
// thread, sequential execution. Runs the "logits" output on the bench's deterministic input
// ((i * 7919) % 2000 / 1000 - 1, exact in every language, so the three frameworks' outputs can
// be compared), --warmup untimed runs (only one when it takes over a second), then timed runs
// until --seconds have passed and at least --min-reps were made. Prints, on stdout, lines the
// driver parses:
//   BENCHRESULT load <seconds>     session creation
//   BENCHRESULT t <seconds>        one timed run each
//   BENCHRESULT logits <K> <sum |row 0|> <v0> ... <v15>   row 0's checksum and first values
// Nothing else goes to stdout. Not here: any statistics (the driver takes the medians).
'use strict';

const ort = require('onnxruntime-node');

function parseArgs(argv) {
    const args = {batch: 1, threads: 1, size: 224, seconds: 1, minReps: 3, warmup: 2};
    for (let i = 2; i < argv.length; i += 2) {
        const key = argv[i], value = argv[i + 1];
        if (value === undefined) throw new Error(`${key} needs a value`);
        switch (key) {
        case '--model': args.model = value; break;
        case '--batch': args.batch = parseInt(value, 10); break;
        case '--threads': args.threads = parseInt(value, 10); break;
        case '--size': args.size = parseInt(value, 10); break;
        case '--seconds': args.seconds = parseFloat(value); break;
        case '--min-reps': args.minReps = parseInt(value, 10); break;
        case '--warmup': args.warmup = parseInt(value, 10); break;
        default: throw new Error(`unknown option ${key}`);
        }
    }
    if (!args.model) throw new Error('--model is required');
    return args;
}

async function main() {
    const args = parseArgs(process.argv);
    const N = args.batch, S = args.size;
    const count = N * 3 * S * S;
    const x = new Float32Array(count);
    for (let i = 0; i < count; i++) x[i] = ((i * 7919) % 2000) / 1000 - 1;

    const t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(args.model, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: args.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
    });
    const seconds = (a, b) => Number(b - a) * 1e-9;
    console.log(`BENCHRESULT load ${seconds(t0, process.hrtime.bigint())}`);

    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x, [N, 3, S, S])};
    let out;
    for (let i = 0; i < args.warmup; i++) {
        const a = process.hrtime.bigint();
        out = await session.run(feeds, ['logits']);
        if (seconds(a, process.hrtime.bigint()) > 1.0) break; // one long run warms up enough
    }
    const start = process.hrtime.bigint();
    for (let rep = 0;; rep++) {
        const a = process.hrtime.bigint();
        out = await session.run(feeds, ['logits']);
        const b = process.hrtime.bigint();
        console.log(`BENCHRESULT t ${seconds(a, b)}`);
        if (rep + 1 >= args.minReps && seconds(start, b) >= args.seconds) break;
    }
    const logits = out.logits.data, K = logits.length / N;
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.abs(logits[k]);
    const first = Array.from(logits.slice(0, 16), (v) => v.toPrecision(9));
    console.log(`BENCHRESULT logits ${K} ${sum} ${first.join(' ')}`);
}

main().catch((err) => {
    console.error(`ort_bench: ${err.message || err}`);
    process.exit(1);
});
