package dev.wush.kernel;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The kernels' worker threads: {@code size} daemon threads that each take one part of a split call. A
 * worker that has finished waits for the next part spinning for {@link #SPIN_NANOS} before it parks: decoding
 * calls the kernels about a hundred times per token with a fraction of a millisecond between calls, and
 * waking a parked thread costs tens of microseconds each time (more on virtual machines). One caller at a
 * time: a second thread that calls while the workers are busy runs its whole range itself.
 */
final class KernelPool {

    /** How long an idle worker spins before it parks: longer than most engine work between two linears (decode measured 7% faster than parking at once). */
    static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(200);

    private final Worker[] workers;
    private final long spinNanos;
    private final AtomicBoolean busy = new AtomicBoolean();

    /**
     * @param spin whether idle workers spin for {@link #SPIN_NANOS} before parking; only when nothing else spins
     *     on the cores (PyTorch's OpenMP threads passive), else the two would take turns stealing each other's core
     */
    KernelPool(int size, boolean spin) {
        spinNanos = spin ? SPIN_NANOS : 0;
        workers = new Worker[size];
        for (int i = 0; i < size; i++) {
            workers[i] = new Worker("wush-kernels-" + (i + 1));
            workers[i].start();
        }
    }

    /** Number of worker threads (the caller makes one more). */
    int size() {
        return workers.length;
    }

    /**
     * Runs parts 1..p-1 on the workers and part 0 on the calling thread, returning when all have finished;
     * the first failure is rethrown. Returns false, running nothing, when another caller holds the workers.
     */
    boolean run(Runnable[] parts) {
        if (parts.length - 1 > workers.length || !busy.compareAndSet(false, true)) {
            return false;
        }
        try {
            for (int i = 1; i < parts.length; i++) {
                workers[i - 1].submit(parts[i]);
            }
            Throwable failure = null;
            try {
                parts[0].run();
            } catch (RuntimeException | Error e) {
                failure = e;
            }
            for (int i = 1; i < parts.length; i++) {
                Throwable f = workers[i - 1].await(); // every part finishes before the caller's buffers may go
                failure = failure == null ? f : failure;
            }
            if (failure instanceof RuntimeException e) {
                throw e;
            }
            if (failure instanceof Error e) {
                throw e;
            }
            return true;
        } finally {
            busy.set(false);
        }
    }

    /** Waits until no caller holds the workers, then stops them; later calls return false. */
    void shutdown() {
        while (!busy.compareAndSet(false, true)) { // never released: the pool takes no more work
            Thread.onSpinWait();
        }
        for (Worker w : workers) {
            w.finish();
        }
    }

    private final class Worker extends Thread {

        private static final Runnable STOP = () -> { };

        private volatile Runnable task;
        private volatile boolean stopped;
        private volatile boolean parked;
        private volatile boolean finished = true;
        private volatile Throwable failure;
        private final Thread owner = this;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        void submit(Runnable part) {
            failure = null;
            finished = false;
            task = part;
            if (parked) {
                LockSupport.unpark(owner);
            }
        }

        /** Waits (spinning: the caller has nothing else to do) until the part has run; its failure or null. */
        Throwable await() {
            while (!finished) {
                Thread.onSpinWait();
            }
            return failure;
        }

        void finish() {
            stopped = true;
            LockSupport.unpark(owner);
        }

        @Override
        public void run() {
            while (true) {
                Runnable t = next();
                if (t == STOP) {
                    return;
                }
                try {
                    t.run();
                } catch (Throwable e) {
                    failure = e;
                }
                task = null;
                finished = true;
            }
        }

        private Runnable next() {
            long spinUntil = System.nanoTime() + spinNanos;
            Runnable t;
            while ((t = task) == null) {
                if (stopped) {
                    return STOP;
                }
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    if (task == null && !stopped) { // submit writes task before reading parked: one of the two sees the other
                        LockSupport.park(this);
                    }
                    parked = false;
                    spinUntil = System.nanoTime() + spinNanos;
                }
            }
            return t;
        }
    }
}
