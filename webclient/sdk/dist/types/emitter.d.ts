export type Listener<T> = (value: T) => void;
export declare class Emitter<Events extends object> {
    private readonly listeners;
    /** on calls fn for every `type` event until the returned function is called. */
    on<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void;
    /** once calls fn for the next `type` event only. */
    once<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void;
    off<K extends keyof Events>(type: K, fn: Listener<Events[K]>): void;
    protected emit<K extends keyof Events>(type: K, value: Events[K]): void;
    protected removeAllListeners(): void;
}
