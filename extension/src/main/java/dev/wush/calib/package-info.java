/** Calibration data: the inputs of linear layers recorded during forward passes. */
package dev.wush.calib;
