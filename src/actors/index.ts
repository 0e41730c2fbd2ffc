export { Mailbox, PAYLOAD_WORDS, SLOT_WORDS, mailboxWords } from './mailbox.js';
export { Doorbell, DOORBELL_WORDS } from './doorbell.js';
export { ActorDirectory, ACTOR_DEAD, ACTOR_LIVE, ACTOR_FREE, type DirectoryOptions } from './directory.js';
export { ReplyBoard, REPLY_VALUES } from './reply.js';
export { ActorClient } from './client.js';
export { ActorHost, type Actor, type ActorBase, type ActorContext, type ActorFactory, type HostControl, type HostEvent } from './host.js';
export * from './protocol.js';
