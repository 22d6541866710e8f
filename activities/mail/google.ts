/**
 * Gmail's part of googleapis only: the package's main entry loads the client of every Google
 * API, about 110 MB of RSS in each process that imports it.
 */
import { auth, gmail, gmail_v1 } from 'googleapis/build/src/apis/gmail';

export const google = { auth, gmail };
export { gmail_v1 };
