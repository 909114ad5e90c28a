/** Block-tree helpers: named children, paths, replacement, views of engine arrays. */
package dev.wush.nn;
