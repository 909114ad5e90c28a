package dev.wush.zoo.hub;

import java.io.IOException;

/** A download from the hub that failed for a reason the user can act on; the message says which. */
public class HubException extends IOException {

    private static final long serialVersionUID = 1L;

    public HubException(String message) {
        super(message);
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
    }
}
