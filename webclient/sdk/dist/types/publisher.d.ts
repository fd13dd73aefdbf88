import { type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { GlintError } from './errors.js';
import { Interaction } from './interaction.js';
import type { Layer } from './protocol.js';
import { type Endpoint } from './whip.js';
export type PublisherState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';
export type VideoCodec = 'vp8' | 'h264' | 'vp9' | 'av1';
export interface PublisherOptions extends Endpoint {
    /** What to send: the camera (default), the screen, or a stream of your own. */
    source?: 'camera' | 'screen' | MediaStream;
    /** Constraints for the camera or screen (default 1280×720). */
    video?: boolean | MediaTrackConstraints;
    audio?: boolean | MediaTrackConstraints;
    /** Send three layers (q, h, f: quarter, half, full size) so each viewer gets what fits. */
    simulcast?: boolean;
    /** The video codec to prefer (the browser's default order otherwise). */
    codec?: VideoCodec;
    /** The top layer's bitrate, kbit/s (default 2500; 1500 with simulcast). */
    maxBitrateKbps?: number;
    /** Shows what is sent. */
    preview?: HTMLVideoElement;
    /**
     * More nodes of a Glint cluster (base URLs, like `server`): when the node publishing is
     * lost or does not answer, the publisher goes on to the next of them, in turn, which
     * becomes the room's origin (docs/CLUSTER.md).
     */
    servers?: string[];
    /**
     * Learn the cluster's other nodes from the node publishing to (GET /nodes) each time it
     * connects, and fail over to them too (default true).
     */
    discover?: boolean;
    reconnect?: BackoffOptions;
    iceServers?: RTCIceServer[];
    /** Pause simulcast layers no viewer wants when the server says so (default true). */
    dynacast?: boolean;
    /** A connection that says nothing for this long is given up, ms (default 2500). */
    deadAfterMs?: number;
}
export interface LayerStats {
    rid: string | null;
    active: boolean;
    width: number;
    height: number;
    bytesSent: number;
}
export interface PublisherEvents {
    state: PublisherState;
    reconnecting: {
        attempt: number;
        delayMs: number;
        error: GlintError;
    };
    /** The publisher moved to another node of the cluster (`servers`) after `error`. */
    failover: {
        from: string;
        to: string;
        error: GlintError;
    };
    /** The simulcast layers being encoded changed (dynacast). */
    layers: {
        active: Layer[];
    };
    error: GlintError;
}
/** The simulcast layers, lowest first; the server picks one per viewer by rid. */
export declare const SIMULCAST: {
    rid: Layer;
    scaleResolutionDownBy: number;
    maxBitrate: number;
}[];
export declare class Publisher extends Emitter<PublisherEvents> {
    readonly interaction: Interaction;
    state: PublisherState;
    stream: MediaStream | null;
    pc: RTCPeerConnection | null;
    private readonly opts;
    private readonly nodes;
    private readonly abort;
    private session;
    private ownStream;
    private wanted;
    private asked;
    private applying;
    private iceServers;
    private closeConn;
    constructor(opts: PublisherOptions);
    private readonly onPageHide;
    /**
     * start captures (unless given a stream) and publishes; it resolves when the first
     * connection is up and rejects when capture or the server refuses. After that the
     * publisher reconnects by itself until stop().
     */
    start(): Promise<void>;
    /** stop ends the broadcast (the viewers see 'ended' at once) and releases the camera. */
    stop(): void;
    /** server is the node publishing to (or tried next): `server`, or one of `servers` after a failover. */
    get server(): string;
    /** layerStats lists what each layer sends (one entry without simulcast). */
    layerStats(): Promise<LayerStats[]>;
    private setState;
    private capture;
    private connect;
    private encodings;
    private run;
    private failOver;
    private queueWanted;
    private applyWanted;
    private teardown;
    private release;
}
