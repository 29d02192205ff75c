# Two bugs in Boost 1.81's io_uring backend, mended in a patched copy of its io_uring_service.ipp
# (newer asio has equivalent fixes):
#   - Closing a socket while one of its operations is still in the ring (waiting for its
#     cancellation) freed the socket's asio object at once. The next socket opened reused it and
#     inherited the operation: its own first read was queued behind it and never submitted, and the
#     old operation was later submitted again on the old descriptor number, by then another
#     connection's (fixes 1-3).
#   - A new submission entry kept the user data of the ring slot's previous user, and
#     cancellations set none: a cancellation completed as a spurious completion of an unrelated
#     operation, which could then be queued twice on the scheduler's intrusive list (fixes 4-5).
# Seen as reads that never completed, heap corruption and a spinning shutdown under connection churn
# (docs/BENCHMARKS-HISTORY.md, round 6). tests/net/asio_backend_test.cpp fails without fix 1 (at once) and
# without fix 4 (once the ring's slots are reused).
#
# im_asio_io_uring_target(<name>) writes the patched copy under the build directory and makes <name>
# an interface target that selects asio's io_uring backend with that copy ahead of /usr/include.
# Every replacement is checked: on any other Boost it warns and defines no target.
function(im_asio_io_uring_target target)
  # The Boost that find_package chose, and only 1.81: the replacements below are 1.81's text.
  find_file(IM_ASIO_IO_URING_SOURCE boost/asio/detail/impl/io_uring_service.ipp PATHS ${Boost_INCLUDE_DIRS} NO_DEFAULT_PATH)
  find_path(URING_INCLUDE liburing.h)
  if(NOT IM_ASIO_IO_URING_SOURCE OR NOT URING_INCLUDE OR NOT Boost_VERSION_STRING VERSION_EQUAL 1.81.0)
    message(STATUS "asio io_uring backend: not built (needs Boost 1.81's asio and liburing's headers)")
    return()
  endif()
  set(dir ${CMAKE_BINARY_DIR}/asio-io-uring-fix)
  file(READ ${IM_ASIO_IO_URING_SOURCE} text)
  set(im_patch_failed FALSE)

  # 1. Closing with an operation still in the ring leaves the object to that operation.
  set(old [=[
    do_cancel_ops(io_obj, ops);
    io_obj->shutdown_ = true;
    io_object_lock.unlock();
    scheduler_.post_deferred_completions(ops);
]=])
  set(new [=[
    do_cancel_ops(io_obj, ops);
    io_obj->shutdown_ = true;
    bool pending_ops = false;  // imserver patch (cmake/AsioIoUringFix.cmake)
    for (int i = 0; i < max_ops; ++i)
      if (!io_obj->queues_[i].op_queue_.empty())
        pending_ops = true;
    io_object_lock.unlock();
    scheduler_.post_deferred_completions(ops);
    if (pending_ops)
    {
      io_obj = 0;  // the last operation to complete frees it
      return;
    }
]=])
  _im_patch(text "${old}" "${new}")

  # 2. The cleanup at the end of a completion frees an object handed to it.
  _im_patch(text [=[
  io_uring_service* service_;
  op_queue<operation> ops_;
  operation* first_op_;
};
]=] [=[
  io_uring_service* service_;
  op_queue<operation> ops_;
  operation* first_op_;
  io_object* io_object_to_free_ = 0;  // imserver patch
};
]=])
  _im_patch(text [=[
  ~perform_io_cleanup_on_block_exit()
  {
    if (first_op_)
]=] [=[
  ~perform_io_cleanup_on_block_exit()
  {
    if (io_object_to_free_)  // imserver patch: after the object's lock is released
      service_->free_io_object(io_object_to_free_);
    if (first_op_)
]=])

  # 3. A completion on a closed object submits nothing again (its descriptor number may be another
  #    socket's by now) and, when it was the last, frees the object.
  _im_patch(text [=[
  cancel_requested_ = false;

  if (!op_queue_.empty())
]=] [=[
  cancel_requested_ = false;

  if (io_object_->shutdown_)  // imserver patch
  {
    while (io_uring_operation* op = op_queue_.front())
    {
      op->ec_ = boost::asio::error::operation_aborted;
      op_queue_.pop();
      io_cleanup.ops_.push(op);
    }
    bool idle = true;
    for (int i = 0; i < max_ops; ++i)
      if (!io_object_->queues_[i].op_queue_.empty())
        idle = false;
    if (idle)
      io_cleanup.io_object_to_free_ = io_object_;
  }

  if (!op_queue_.empty())
]=])

  # 4. A new submission entry starts with no user data. liburing's prep functions leave it as the
  #    ring slot's previous user had it, so a cancellation (which sets none) completed as a spurious
  #    completion of whatever operation used that slot before: an operation run twice, or queued
  #    twice on the scheduler's intrusive list.
  _im_patch(text [=[
  if (sqe)
    ++pending_sqes_;
  return sqe;
]=] [=[
  if (sqe)
  {
    ::io_uring_sqe_set_data(sqe, 0);  // imserver patch
    ++pending_sqes_;
  }
  return sqe;
]=])
  # 5. The removal of run()'s own timeout reports to that timeout, as run() counts on.
  _im_patch(text [=[
        ::io_uring_prep_timeout_remove(sqe, reinterpret_cast<__u64>(&ts), 0);
]=] [=[
        ::io_uring_prep_timeout_remove(sqe, reinterpret_cast<__u64>(&ts), 0);
        ::io_uring_sqe_set_data(sqe, &ts);  // imserver patch
]=])

  if(im_patch_failed)
    message(WARNING "asio io_uring fix: the installed io_uring_service.ipp is not Boost 1.81's; "
                    "the io_uring backend is not built (check cmake/AsioIoUringFix.cmake against it)")
    return()
  endif()
  string(APPEND text "\n#define IM_ASIO_IO_URING_FIXED 1\n")
  file(MAKE_DIRECTORY ${dir}/boost/asio/detail/impl)
  file(CONFIGURE OUTPUT ${dir}/boost/asio/detail/impl/io_uring_service.ipp CONTENT "${text}" @ONLY)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${IM_ASIO_IO_URING_SOURCE})
  add_library(${target} INTERFACE)
  target_include_directories(${target} BEFORE INTERFACE ${dir})
  target_compile_definitions(${target} INTERFACE BOOST_ASIO_HAS_IO_URING BOOST_ASIO_DISABLE_EPOLL)
  target_link_libraries(${target} INTERFACE ${URING_LIB})
endfunction()

# Replaces `old` by `new` in the variable `var`; sets im_patch_failed in the caller when `old` is
# not there.
function(_im_patch var old new)
  string(FIND "${${var}}" "${old}" at)
  if(at EQUAL -1)
    set(im_patch_failed TRUE PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "${old}" "${new}" patched "${${var}}")
  set(${var} "${patched}" PARENT_SCOPE)
endfunction()
