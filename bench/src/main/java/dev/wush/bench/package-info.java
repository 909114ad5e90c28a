/** JMH benchmarks of the packed kernels and whole models against DJL fp32 ({@code wush-bench}). */
package dev.wush.bench;
