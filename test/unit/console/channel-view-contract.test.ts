/**
 * The console (its own tsconfig, bundled for the browser) restates the ops API's channel view in
 * console/src/channel-view.ts instead of importing server code. This file is the check that keeps
 * the two from drifting: the root typecheck (`npm run typecheck`, part of `npm test`) compiles it,
 * so a field the console reads that the API renames, removes or retypes fails the build, and a
 * channel state or input the API adds must be added to the console too.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { ChannelView as ApiChannelView, RenditionStats as ApiRenditionStats } from '../../../src/channels/channel-service.js';
import type { ChannelInputView as ApiChannelInputView } from '../../../src/channels/channel-inputs.js';
import type { ChannelState as ApiChannelState } from '../../../src/core/channel-state.js';
import type {
  ChannelInputStatus,
  ChannelState,
  ChannelView,
  RenditionStats,
  SelectableInput,
} from '../../../console/src/channel-view.js';
import type { SelectedInput as ApiSelectedInput } from '../../../src/ingest/input-selector.js';

describe("the console's channel view restates the API's", () => {
  it('reads only fields the API sends, with the types it sends them in', () => {
    expectTypeOf<ApiChannelView>().toMatchTypeOf<ChannelView>();
    expectTypeOf<ApiRenditionStats>().toMatchTypeOf<RenditionStats>();
    expectTypeOf<ApiChannelInputView>().toMatchTypeOf<ChannelInputStatus>();
  });

  it('knows every channel state and every selectable input', () => {
    expectTypeOf<ChannelState>().toEqualTypeOf<ApiChannelState>();
    expectTypeOf<SelectableInput>().toEqualTypeOf<ApiSelectedInput>();
  });
});
